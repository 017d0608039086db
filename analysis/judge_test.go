package analysis_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

func ptr(v float64) *float64 { return &v }

func TestThreshold(t *testing.T) {
	tests := []struct {
		name     string
		value    float64
		min, max *float64
		want     trancheapi.Verdict
	}{
		{"inside", 5, ptr(1), ptr(10), trancheapi.VerdictPass},
		{"on min", 1, ptr(1), ptr(10), trancheapi.VerdictPass},
		{"on max", 10, ptr(1), ptr(10), trancheapi.VerdictPass},
		{"below min", 0.999, ptr(1), ptr(10), trancheapi.VerdictFail},
		{"above max", 10.001, ptr(1), ptr(10), trancheapi.VerdictFail},
		{"only min, above", 1e9, ptr(99), nil, trancheapi.VerdictPass},
		{"only min, below", 98.9, ptr(99), nil, trancheapi.VerdictFail},
		{"only max, below", -5, nil, ptr(1), trancheapi.VerdictPass},
		{"only max, above", 1.5, nil, ptr(1), trancheapi.VerdictFail},
		{"no bounds", 42, nil, nil, trancheapi.VerdictPass},
		{"NaN", math.NaN(), ptr(0), ptr(1), trancheapi.VerdictInconclusive},
		{"NaN without bounds", math.NaN(), nil, nil, trancheapi.VerdictInconclusive},
		{"+Inf", math.Inf(1), ptr(0), nil, trancheapi.VerdictInconclusive},
		{"-Inf", math.Inf(-1), nil, ptr(1), trancheapi.VerdictInconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, analysis.Threshold(tt.value, tt.min, tt.max))
		})
	}
}

func TestCheckValueString(t *testing.T) {
	tests := []struct {
		value float64
		want  string
	}{
		{0.3, "0.3"},
		{0.30000000000000004, "0.3"},
		{0.123456, "0.1235"},
		{0.0001234567, "0.0001235"},
		{0.00001234567, "1.235e-05"},
		{1, "1"},
		{99.5, "99.5"},
		{1234.56789, "1234.5679"},
		{-2.25, "-2.25"},
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{2e15, "2e+15"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"},
		{math.Inf(-1), "-Inf"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.value), func(t *testing.T) {
			assert.Equal(t, tt.want, analysis.Check{Value: tt.value, HasValue: true}.ValueString())
		})
	}
	assert.Equal(t, "", analysis.Check{Value: 3, HasValue: false}.ValueString())
}

// querier answers every query with the same value and error.
type querier struct {
	value float64
	err   error
}

func (q querier) Query(context.Context, string, time.Time) (float64, error) { return q.value, q.err }

func TestEvaluate(t *testing.T) {
	unreachable := errors.New("dial tcp 127.0.0.1:9: connection refused")
	tests := []struct {
		name string
		q    querier
		want analysis.Check
	}{
		{"pass", querier{value: 0.5}, analysis.Check{Value: 0.5, HasValue: true, Verdict: trancheapi.VerdictPass}},
		{"fail", querier{value: 2}, analysis.Check{Value: 2, HasValue: true, Verdict: trancheapi.VerdictFail}},
		{"no data", querier{err: analysis.ErrNoData}, analysis.Check{Verdict: trancheapi.VerdictInconclusive}},
		{"no data, wrapped", querier{err: fmt.Errorf("x: %w", analysis.ErrNoData)}, analysis.Check{Verdict: trancheapi.VerdictInconclusive}},
		{"unreachable", querier{value: 0.5, err: unreachable}, analysis.Check{Verdict: trancheapi.VerdictInconclusive, Err: unreachable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, analysis.Evaluate(context.Background(), tt.q, "q", time.Time{}, nil, ptr(1)))
		})
	}
	nan := analysis.Evaluate(context.Background(), querier{value: math.NaN()}, "q", time.Time{}, nil, ptr(1))
	assert.Equal(t, trancheapi.VerdictInconclusive, nan.Verdict)
	assert.True(t, nan.HasValue)
	assert.Equal(t, "NaN", nan.ValueString())
}
