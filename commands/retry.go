package commands

import (
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Pause between a writer's attempts after a conflict with another process: a random duration up
// to retryFirst·2^(attempt-1), at most retryMax ("full jitter"). There is no bound on attempts: a
// command is never refused because of other traffic, only when its context ends.
const (
	retryFirst = 2 * time.Millisecond
	retryMax   = 200 * time.Millisecond
)

// conflictBackOff returns the pacing of a writer's attempts on one batch. backoff/v5 draws from
// interval·(1±RandomizationFactor), so a factor of 1 around half the bound gives a pause anywhere
// from zero to the bound: [0, 2 ms], [0, 4 ms], … up to [0, 200 ms].
func conflictBackOff() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{InitialInterval: retryFirst / 2, RandomizationFactor: 1, Multiplier: 2,
		MaxInterval: retryMax / 2}
}
