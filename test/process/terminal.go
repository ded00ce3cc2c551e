/*
Copyright 2026 The csi-driver-spiffe operator authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package process

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// TakeTerminal moves the calling process into a process group of its own
// and makes that group the terminal's foreground group, as a shell does for
// a job, so that Ctrl-C interrupts this process (and the children it starts
// in its group) and not the `make` and `go run` that started it: they would
// report the interrupt as a failure (`make: *** [demo] Error 1`) although
// this process stops cleanly. restore gives the terminal back to the
// original group; call it before exiting. Without a controlling terminal it
// does nothing.
func TakeTerminal() (restore func()) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return func() {}
	}
	fd := int(tty.Fd())
	orig, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil || orig != syscall.Getpgrp() {
		// Not in the foreground: leave the terminal alone.
		tty.Close()
		return func() {}
	}
	// A process of a background group that sets the foreground group gets
	// SIGTTOU, which would stop it.
	signal.Ignore(syscall.SIGTTOU)
	if err := syscall.Setpgid(0, 0); err != nil {
		tty.Close()
		return func() {}
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, syscall.Getpgrp()); err != nil {
		_ = syscall.Setpgid(0, orig)
		tty.Close()
		return func() {}
	}
	return func() {
		_ = unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, orig)
		tty.Close()
	}
}
