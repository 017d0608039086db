package v1alpha1_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

func TestTargetStatusCovers(t *testing.T) {
	own := func(value string) map[string]string {
		return map[string]string{trancheapi.AnnotationOwnGenerations: value}
	}
	for _, tc := range []struct {
		name        string
		seen, now   int64
		annotations map[string]string
		want        bool
	}{
		{"the same generation", 4, 4, nil, true},
		{"a newer one, not Tranche's", 4, 5, nil, false},
		{"a newer one, Tranche's scale", 4, 5, own("4-5"), true},
		{"two scales of Tranche's in a row", 4, 6, own("4-6"), true},
		{"seen in the middle of Tranche's scales", 5, 6, own("4-6"), true},
		{"an owner's write after Tranche's", 4, 7, own("4-6"), false},
		{"Tranche's scales after a change not seen", 3, 6, own("4-6"), false},
		{"a range that does not parse", 4, 5, own("4..5"), false},
		{"a range backwards", 4, 5, own("5-4"), false},
	} {
		got := trancheapi.TargetStatus{Generation: tc.seen}.Covers(tc.now, tc.annotations)
		assert.Equal(t, tc.want, got, tc.name)
	}
}

func TestNextOwnGenerations(t *testing.T) {
	own := map[string]string{trancheapi.AnnotationOwnGenerations: "4-6"}
	assert.Equal(t, "4-7", trancheapi.NextOwnGenerations(own, 6), "a scale right after Tranche's grows the range")
	assert.Equal(t, "8-9", trancheapi.NextOwnGenerations(own, 8), "after an owner's write a range starts again")
	assert.Equal(t, "2-3", trancheapi.NextOwnGenerations(nil, 2))
}
