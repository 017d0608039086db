package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// scrapesSeen says what the suite's Prometheus holds of the last 20 s: when it stored samples
// of the canary's request counters in ns, and how long its scrapes of the exporter took. It
// goes into the message of an assertion on a check's verdict, so that a check that found no
// data tells whether the scrapes stopped (a busy machine) or the traffic did (a test's bug).
func scrapesSeen(ns string) string {
	client, err := promapi.NewClient(promapi.Config{Address: prom.URL()})
	if err != nil {
		return err.Error()
	}
	api := promv1.NewAPI(client)
	now := time.Now()
	var b strings.Builder
	for _, query := range []string{
		fmt.Sprintf(`tranche_test_requests_total{namespace=%q, service=~".*-canary"}[20s]`, ns),
		`scrape_duration_seconds{job="tranche-test"}[20s]`,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		v, _, err := api.Query(ctx, query, now)
		cancel()
		if err != nil {
			fmt.Fprintf(&b, "\n%s: %v", query, err)
			continue
		}
		matrix, _ := v.(model.Matrix)
		if len(matrix) == 0 {
			fmt.Fprintf(&b, "\n%s: no series", query)
		}
		for _, series := range matrix {
			fmt.Fprintf(&b, "\n%s:", series.Metric)
			for _, p := range series.Values {
				fmt.Fprintf(&b, " %.1fs=%g", p.Timestamp.Time().Sub(now).Seconds(), float64(p.Value))
			}
		}
	}
	return b.String()
}
