package projections

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// ProgressBar returns a Rebuild progress callback that draws a bar on out (a terminal): events
// replayed of the estimated total, the rate in events per second and the time left. The total
// grows when writes continue during the rebuild.
func ProgressBar(out io.Writer, name string) func(Progress) {
	var bar *progressbar.ProgressBar
	return func(p Progress) {
		if bar == nil {
			max := p.Total
			if max <= 0 {
				max = -1 // unknown until the first batch shows how densely events fill the log
			}
			bar = progressbar.NewOptions64(max,
				progressbar.OptionSetWriter(out),
				progressbar.OptionSetDescription("rebuild "+name),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("events"),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionSetElapsedTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionFullWidth(),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(out) }),
			)
		}
		if p.Total > 0 && p.Total != bar.GetMax64() {
			bar.ChangeMax64(p.Total)
		}
		_ = bar.Set64(p.Done) // writing to out is best effort
		if p.Swapped {
			_ = bar.Finish()
		}
	}
}
