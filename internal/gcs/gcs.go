// Package gcs is tfpr's own access to Google Cloud Storage: reading the
// state locks terraform leaves and keeping plan files. It uses Google's
// JSON API client (google.golang.org/api/storage/v1, the transport under
// cloud.google.com/go/storage) because the full client links gRPC and xDS,
// whose start-up registrations double tfpr's idle memory.
package gcs

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	storage "google.golang.org/api/storage/v1"

	"github.com/tfpr/tfpr/internal/metrics"
)

// ErrNotExist is returned for a missing object.
var ErrNotExist = errors.New("object does not exist")

// Client reads and writes objects.
type Client struct {
	svc *storage.Service
	// Metrics counts failed calls (a missing object is not a failure);
	// nil counts nothing.
	Metrics *metrics.Metrics
}

// New returns a client using Application Default Credentials, or the
// emulator named by STORAGE_EMULATOR_HOST (unauthenticated), the variable
// Google's own clients honour.
func New(ctx context.Context, getenv func(string) string) (*Client, error) {
	var opts []option.ClientOption
	if host := getenv("STORAGE_EMULATOR_HOST"); host != "" {
		if !strings.Contains(host, "://") {
			host = "http://" + host
		}
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(host, "/")+"/storage/v1/"), option.WithoutAuthentication())
	}
	svc, err := storage.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create GCS client: %w", err)
	}
	return &Client{svc: svc}, nil
}

// Object is what a read returns.
type Object struct {
	Data       []byte
	Generation int64
}

// Key is an optional customer-supplied AES-256 key (32 bytes): GCS keeps
// only its hash, so readers of the bucket cannot read the object.
type Key []byte

func (k Key) headers(h http.Header) {
	if len(k) == 0 {
		return
	}
	sum := sha256.Sum256(k)
	h.Set("X-Goog-Encryption-Algorithm", "AES256")
	h.Set("X-Goog-Encryption-Key", base64.StdEncoding.EncodeToString(k))
	h.Set("X-Goog-Encryption-Key-Sha256", base64.StdEncoding.EncodeToString(sum[:]))
}

// Read returns an object's content and generation.
func (c *Client) Read(ctx context.Context, bucket, name string, key Key) (*Object, error) {
	call := c.svc.Objects.Get(bucket, name).Context(ctx)
	key.headers(call.Header())
	resp, err := call.Download()
	if notFound(err) {
		return nil, fmt.Errorf("gs://%s/%s: %w", bucket, name, ErrNotExist)
	}
	if err != nil {
		c.Metrics.GCSError(metrics.GCSRead)
		return nil, fmt.Errorf("read gs://%s/%s: %w", bucket, name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.Metrics.GCSError(metrics.GCSRead)
		return nil, fmt.Errorf("read gs://%s/%s: %w", bucket, name, err)
	}
	var gen int64
	fmt.Sscan(resp.Header.Get("X-Goog-Generation"), &gen)
	return &Object{Data: data, Generation: gen}, nil
}

// Write uploads r as the object's new content.
func (c *Client) Write(ctx context.Context, bucket, name string, r io.Reader, key Key) error {
	call := c.svc.Objects.Insert(bucket, &storage.Object{Name: name, ContentType: "application/octet-stream"}).Media(r).Context(ctx)
	key.headers(call.Header())
	if _, err := call.Do(); err != nil {
		c.Metrics.GCSError(metrics.GCSWrite)
		return fmt.Errorf("write gs://%s/%s: %w", bucket, name, err)
	}
	return nil
}

// Delete removes an object; a missing one is not an error.
func (c *Client) Delete(ctx context.Context, bucket, name string) error {
	err := c.svc.Objects.Delete(bucket, name).Context(ctx).Do()
	if err != nil && !notFound(err) {
		c.Metrics.GCSError(metrics.GCSDelete)
		return fmt.Errorf("delete gs://%s/%s: %w", bucket, name, err)
	}
	return nil
}

// Reachable lists at most one object of bucket: it proves the bucket
// exists and tfpr's identity may read it (storage.objects.list, which
// roles/storage.objectViewer grants), without needing bucket metadata rights.
func (c *Client) Reachable(ctx context.Context, bucket string) error {
	_, err := c.svc.Objects.List(bucket).MaxResults(1).Fields("items/name").Context(ctx).Do()
	if err != nil {
		c.Metrics.GCSError(metrics.GCSProbe)
		return fmt.Errorf("list gs://%s: %w", bucket, err)
	}
	return nil
}

func notFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}
