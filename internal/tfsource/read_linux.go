package tfsource

import (
	"os"
	"syscall"
)

// ReadRegularAt reads the regular file name in dir with openat(2) on dir's
// descriptor: a one-step lookup that cannot leave dir or follow a symlink
// (O_NOFOLLOW), and none of the poller set-up os.File does for each file.
// ok is false whenever anything is unusual (not a regular file, over limit
// bytes, a short read); the caller then reads through os.Root (ReadFile),
// which also says why.
func ReadRegularAt(dir *os.File, name string, limit int64) (src []byte, ok bool) {
	rc, err := dir.SyscallConn()
	if err != nil {
		return nil, false
	}
	rc.Control(func(dirfd uintptr) {
		fd, err := syscall.Openat(int(dirfd), name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			return
		}
		defer syscall.Close(fd)
		var st syscall.Stat_t
		if syscall.Fstat(fd, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Size > limit {
			return
		}
		// One byte more than the size, to notice a file that grew.
		buf := make([]byte, st.Size+1)
		n, err := syscall.Read(fd, buf)
		if err != nil || int64(n) != st.Size {
			return
		}
		src, ok = buf[:n], true
	})
	return src, ok
}
