//go:build browser

package runspage

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/store"
)

// browser starts headless Chromium (Debian's chromium) for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := os.Getenv("CHROMIUM")
	if bin == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				bin = p
				break
			}
		}
	}
	if bin == "" {
		t.Fatal("no chromium: install Debian's chromium (.ci/run does) or set CHROMIUM")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Flag("headless", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// The runs page, in a real browser, lists a finished run and shows a
// running run's log lines as they are written.
func TestBrowserListsRunsAndStreamsALiveLog(t *testing.T) {
	f := newFixture(t, nil)
	done := f.run(t, "plan", "microservices/alpha/dev", 7, store.StatusSucceeded)
	live := f.run(t, "apply", "microservices/beta/prod", 8, store.StatusRunning)
	f.logs.Append(runlog.RunID(live), "Initializing the backend...")
	ctx := browser(t)

	var rows string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(f.srv.URL+"/"),
		chromedp.WaitVisible(`#runs`, chromedp.ByID),
		chromedp.Text(`#runs tbody`, &rows, chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rows, "#"+itoa(done)) || !strings.Contains(rows, "succeeded") || !strings.Contains(rows, "microservices/alpha/dev") {
		t.Fatalf("the list does not show the finished run:\n%s", rows)
	}

	if err := chromedp.Run(ctx,
		chromedp.Navigate(f.srv.URL+"/runs/"+itoa(live)),
		chromedp.WaitVisible(`#log`, chromedp.ByID),
		waitText(`#log`, "Initializing the backend..."),
	); err != nil {
		t.Fatal(err)
	}
	// Written after the page loaded: only the live stream can bring these.
	f.logs.Append(runlog.RunID(live), "aws_thing.x: Creating...", "Apply complete! Resources: 1 added, 0 changed, 0 destroyed.")
	if err := chromedp.Run(ctx, waitText(`#log`, "Apply complete! Resources: 1 added")); err != nil {
		t.Fatalf("the streamed line never appeared: %v", err)
	}
	if err := f.st.FinishRun(context.Background(), live, store.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	f.logs.Finish(runlog.RunID(live))
	if err := chromedp.Run(ctx, waitText(`#status`, "succeeded")); err != nil {
		t.Fatalf("the page did not show the run finishing: %v", err)
	}
}

// waitText waits until the element's text contains want.
func waitText(sel, want string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		for {
			var got string
			if err := chromedp.Text(sel, &got, chromedp.ByQuery).Do(ctx); err != nil {
				return err
			}
			if strings.Contains(got, want) {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
}
