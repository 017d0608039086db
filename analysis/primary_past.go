package analysis

import (
	"context"
	"errors"
	"time"

	"github.com/tranche-dev/tranche/analysis/sequential"
)

// pastLength is how far before the step the primary's errors are read: incidents of
// minutes that make half a version's errors come about once an hour, and an hour often
// holds none (docs/analysis.md, "The primary's past").
const pastLength = 4 * time.Hour

// primaryPast reads the primary's errors and requests in parts over the pastLength before
// the step began, with its part queries as range queries (two requests), and learns from
// them how bursty its errors are (sequential.LearnPast). The past before the step is the
// same at every run of it; Prometheus answers a few hundred points a query in milliseconds.
// A primary with a shorter past (a fresh install, a shorter retention) gives what there is;
// a part Prometheus has no answer for, or a negative one (a counter reset), counts as a part
// without requests. The zero Past, which weighs nothing, when the querier does not answer
// range queries or the past cannot be read.
func primaryPast(ctx context.Context, q Querier, run CompareRun, at time.Time) sequential.Past {
	rq, ranges := q.(RangeQuerier)
	if !ranges || run.Part <= 0 || run.Primary.PartQuery == "" || run.Primary.PartTotal == "" {
		return sequential.Past{}
	}
	n := min(int(pastLength/run.Part), maxRangePoints-1)
	end := at.Add(-run.Window)
	first := end.Add(-time.Duration(n-1) * run.Part)
	requests, err := rq.QueryRange(ctx, run.Primary.PartTotal, first, end, run.Part)
	if err != nil {
		return sequential.Past{}
	}
	errs, err := rq.QueryRange(ctx, run.Primary.PartQuery, first, end, run.Part)
	if err != nil {
		return sequential.Past{}
	}
	parts := make([]sequential.Tally, n)
	for i := range parts {
		t := first.Add(time.Duration(i) * run.Part)
		r, err := requests.At(t)
		if err != nil || !countable(r) {
			continue
		}
		e, err := errs.At(t)
		switch {
		case errors.Is(err, ErrNoData): // no error series then: no error
			e = 0
		case err != nil || !countable(e):
			continue
		}
		parts[i] = sequential.Tally{Requests: r, Errors: e}
	}
	return sequential.LearnPast(parts)
}
