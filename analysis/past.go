package analysis

import (
	"context"
	"time"
)

// RangeQuerier is a CompareQuerier that also evaluates a query over a range of times in one
// request. Prometheus is one.
type RangeQuerier interface {
	CompareQuerier
	QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (Values, error)
}

// PastQuerier asks about the runs of one step of a past rollout: times start+k*interval up
// to last. A query asked at a second run is fetched for the step's remaining runs in one
// range query. A Threshold metric asks the same query at every run, so a step costs it two
// requests; a Compare metric's window grows with each run, so each of its queries is asked
// once, as the controller asked it.
type PastQuerier struct {
	RangeQuerier
	interval time.Duration
	last     time.Time
	seen     map[string]bool
	ranges   map[string]pastRange
}

type pastRange struct {
	from   time.Time
	values Values
	err    error
}

// NewPastQuerier asks q about runs every interval up to last.
func NewPastQuerier(q RangeQuerier, interval time.Duration, last time.Time) *PastQuerier {
	return &PastQuerier{RangeQuerier: q, interval: interval, last: last, seen: map[string]bool{}, ranges: map[string]pastRange{}}
}

// Query answers from the range fetched for query when at is one of its times; otherwise it
// asks at alone, or fetches the range when query was asked before.
func (p *PastQuerier) Query(ctx context.Context, query string, at time.Time) (float64, error) {
	if r, ok := p.ranges[query]; ok && p.onGrid(r.from, at) {
		if r.err != nil {
			return 0, r.err
		}
		return r.values.At(at)
	}
	if !p.seen[query] || at.After(p.last) {
		p.seen[query] = true
		return p.RangeQuerier.Query(ctx, query, at)
	}
	values, err := p.QueryRange(ctx, query, at, p.last, p.interval)
	p.ranges[query] = pastRange{from: at, values: values, err: err}
	return p.Query(ctx, query, at)
}

// onGrid reports whether at is one of the times of a range fetched from from.
func (p *PastQuerier) onGrid(from, at time.Time) bool {
	d := at.Sub(from)
	return d >= 0 && !at.After(p.last) && d%p.interval == 0
}
