//go:build !linux

package postgres

import (
	"syscall"
	"time"
)

// userTimeout does nothing where TCP_USER_TIMEOUT does not exist; keepalives still probe idle
// connections.
func userTimeout(time.Duration) func(network, address string, c syscall.RawConn) error {
	return nil
}
