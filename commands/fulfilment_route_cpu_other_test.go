//go:build !linux && !darwin

package commands_test

import "time"

// processCPU returns 0: the benchmarks read CPU time with getrusage, where the system has it.
func processCPU() time.Duration { return 0 }
