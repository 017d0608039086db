package analysis

import (
	"context"
	"errors"
	"time"

	"github.com/tranche-dev/tranche/analysis/sequential"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// PartLength is the length of the parts a Compare metric's error counts are read in: a
// quarter of the analysis interval, no shorter than the scrape interval (a shorter part would
// hold a scrape or none; 0 is Prometheus's most common, 15 s), and no longer than the
// analysis interval.
func PartLength(interval, scrape time.Duration) time.Duration {
	if scrape <= 0 {
		scrape = trancheapi.DefaultScrapeInterval
	}
	return min(interval, max(interval/4, scrape))
}

// partCounts reads the error counts of both workloads in consecutive parts of the window,
// with one range query for each of the four counts, the last part ending at at. What the
// whole parts leave of the window, at its start, is one more part, so that the parts add up
// to the totals. ok is false when the querier does not answer range queries, when the window
// holds no whole part, or when Prometheus does not give the parts; the judge then reads the
// totals alone, as it does without parts.
func partCounts(ctx context.Context, q Querier, run CompareRun, at time.Time, totals sequential.Counts) ([]sequential.Counts, bool) {
	rq, ranges := q.(RangeQuerier)
	if !ranges || run.Part <= 0 || run.Canary.PartQuery == "" || run.Window < run.Part {
		return nil, false
	}
	n := int(run.Window / run.Part)
	first := at.Add(-time.Duration(n-1) * run.Part)
	parts := make([]sequential.Counts, n)
	for _, v := range []struct {
		query string
		field func(*sequential.Counts) *float64
	}{
		{run.Canary.PartQuery, func(c *sequential.Counts) *float64 { return &c.CanaryErrors }},
		{run.Canary.PartTotal, func(c *sequential.Counts) *float64 { return &c.CanaryRequests }},
		{run.Primary.PartQuery, func(c *sequential.Counts) *float64 { return &c.PrimaryErrors }},
		{run.Primary.PartTotal, func(c *sequential.Counts) *float64 { return &c.PrimaryRequests }},
	} {
		values, err := rq.QueryRange(ctx, v.query, first, at, run.Part)
		if err != nil {
			return nil, false
		}
		for i := range parts {
			value, err := values.At(first.Add(time.Duration(i) * run.Part))
			switch {
			case errors.Is(err, ErrNoData):
			case err != nil || !countable(value):
				return nil, false // a counter reset, say: the totals still count
			default:
				*v.field(&parts[i]) = value
			}
		}
	}
	var sum sequential.Counts
	for _, p := range parts {
		sum = sum.Plus(p)
	}
	rest := totals.Minus(sum)
	if rest.CanaryErrors >= 0 && rest.CanaryRequests >= 0 && rest.PrimaryErrors >= 0 && rest.PrimaryRequests >= 0 &&
		rest.CanaryRequests+rest.PrimaryRequests > 0 {
		parts = append([]sequential.Counts{rest}, parts...)
	}
	return parts, true
}
