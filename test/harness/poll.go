package harness

import (
	"context"
	"time"
)

// lookEvery calls look at once and then every period until ctx is done: the loop of the
// harness's stand-ins for cluster components (the demo apps, the service proxy), which look
// at the API server's objects rather than watch them.
func lookEvery(ctx context.Context, period time.Duration, look func(context.Context)) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		look(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
