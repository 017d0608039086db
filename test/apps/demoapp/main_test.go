package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Bursts come by the wall clock, so that every process of the app bursts at the same time.
func TestBurstsComeByTheWallClock(t *testing.T) {
	rate := bursts{every: 20 * time.Second, length: 4 * time.Second, errorRate: 0.5}.rate(0.01)
	base := time.Unix(1_800_000_000, 0) // a multiple of 20 s
	assert.Equal(t, 0.5, rate(base))
	assert.Equal(t, 0.5, rate(base.Add(3999*time.Millisecond)))
	assert.Equal(t, 0.01, rate(base.Add(4*time.Second)))
	assert.Equal(t, 0.5, rate(base.Add(61*time.Second)))
	assert.Equal(t, 0.01, bursts{}.rate(0.01)(base), "no bursts unless asked")
}
