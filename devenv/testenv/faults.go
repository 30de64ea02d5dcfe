package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Real faults for tests: files the kernel refuses to write (even for root,
// whom permissions do not stop) and file systems that run out of room.

// SetImmutable sets or clears the immutable attribute of each file (chattr
// +i / -i): while it is set, nobody — root included — can write the file,
// through descriptors opened before as well as new ones, and an open for
// writing fails. Files that do not exist are skipped. The attribute is
// cleared again when the test ends, so that its folder can be removed.
//
// The test is skipped if the file system has no immutable attribute or
// does not enforce it on open files (ext4 and XFS do).
func SetImmutable(t testing.TB, on bool, files ...string) {
	t.Helper()
	for _, f := range files {
		if _, err := os.Stat(f); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := setImmutable(f, on); err != nil {
			if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL) {
				t.Skipf("the file system under %s has no immutable attribute (chattr +i: %v)", filepath.Dir(f), err)
			}
			t.Fatalf("chattr %s: %v", f, err)
		}
		if on {
			t.Cleanup(func() { _ = setImmutable(f, false) })
		}
	}
}

// RequireImmutableEnforced skips the test unless the immutable attribute
// stops writes through a descriptor opened before it was set, in dir.
func RequireImmutableEnforced(t testing.TB, dir string) {
	t.Helper()
	f, err := os.CreateTemp(dir, "immutable-probe-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := setImmutable(f.Name(), true); err != nil {
		t.Skipf("the file system under %s has no immutable attribute (chattr +i: %v)", dir, err)
	}
	_, werr := f.WriteString("x")
	if err := setImmutable(f.Name(), false); err != nil {
		t.Fatal(err)
	}
	if werr == nil {
		t.Skipf("the file system under %s does not enforce the immutable attribute on open files", dir)
	}
}

// fsImmutableFL is FS_IMMUTABLE_FL of linux/fs.h, which x/sys/unix lacks.
const fsImmutableFL = 0x00000010

func setImmutable(path string, on bool) error {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return err
	}
	if on {
		flags |= fsImmutableFL
	} else {
		flags &^= fsImmutableFL
	}
	return unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags))
}

// Tmpfs mounts a tmpfs of size bytes on a new folder of the test, unmounted
// when the test ends, and returns the folder: a file system the test can
// fill. The test is skipped if this process may not mount (it needs root,
// or CAP_SYS_ADMIN).
func Tmpfs(t testing.TB, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("cannot mount a tmpfs to fill (%v): run as root or with CAP_SYS_ADMIN", err)
		}
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// Fill writes a file in dir until its file system has no room left, and
// returns a function that removes it again.
func Fill(t testing.TB, dir string) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "filler-"+RandomHex(4))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			break
		}
	}
	// The last few bytes a block could not take.
	for _, n := range []int{4096, 512, 1} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
	f.Close()
	return func() {
		if err := os.Remove(path); err != nil {
			t.Errorf("freeing %s: %v", dir, err)
		}
	}
}
