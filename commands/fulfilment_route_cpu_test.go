//go:build linux || darwin

package commands_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) this process has used so far, so that a
// benchmark can report what its work cost the machine besides how long it took.
func processCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
