package analysis_test

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tranche-dev/tranche/test/harness"
)

// stack is the real Prometheus and the exporter it scrapes, shared by the package's
// integration tests. It starts on first use rather than in TestMain, so that the unit tests
// and fuzzing (whose workers run TestMain too) do not pay for it; TestMain stops it.
var stack struct {
	once     sync.Once
	err      error
	exporter *harness.Exporter
	prom     *harness.Prometheus
}

func TestMain(m *testing.M) {
	code := m.Run()
	if stack.prom != nil {
		if err := stack.prom.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping prometheus:", err)
		}
	}
	if stack.exporter != nil {
		_ = stack.exporter.Close()
	}
	os.Exit(code)
}

// realPrometheus returns the shared exporter and the Prometheus scraping it, starting them
// the first time. A machine without Prometheus fails the test with the way to install it.
func realPrometheus(t *testing.T) (*harness.Exporter, *harness.Prometheus) {
	t.Helper()
	stack.once.Do(func() {
		if stack.exporter, stack.err = harness.NewExporter(); stack.err != nil {
			return
		}
		stack.prom, stack.err = harness.StartPrometheus(harness.PrometheusOptions{Targets: []string{stack.exporter.Address()}})
	})
	require.NoError(t, stack.err, "starting the test Prometheus")
	return stack.exporter, stack.prom
}

// startPrometheus starts a Prometheus of the test's own, stopped when the test ends.
func startPrometheus(t *testing.T, opts harness.PrometheusOptions) *harness.Prometheus {
	t.Helper()
	prom, err := harness.StartPrometheus(opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := prom.Stop(); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stopping prometheus: %v", err)
		}
	})
	return prom
}
