package main

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// A family is a shape whose settings each trace draws at random within ranges, rather than a
// point chosen in advance: how long incidents last and how many errors they make, how heavy
// the tail of error events is, how the base rate drifts. The bench reports each family over
// its draws, and the goals take the worst family.
type family interface {
	shape
	// pick draws one trace's shape.
	pick(rng *rand.Rand) trafficShape
}

// logUniform draws from lo to hi, each factor of the range as likely as another.
func logUniform(rng *rand.Rand, lo, hi float64) float64 {
	return math.Exp(math.Log(lo) + rng.Float64()*math.Log(hi/lo))
}

// incidentFamily is incidents whose settings each trace draws: the incidents of a trace last
// between shortest and longest seconds, from a range a factor of 2 to 8 wide drawn within
// [from, to], and multiply the hit versions' errors by 5 to 50.
type incidentFamily struct {
	from, to float64
	both     bool
}

func (f incidentFamily) name() string {
	hit := "one version at a time"
	if f.both {
		hit = "both versions at once"
	}
	return fmt.Sprintf("incidents of %s-%s (drawn), errors x5-50, %s", seconds(f.from), seconds(f.to), hit)
}

func (incidentFamily) tries() (string, bool) {
	return "errors are independent events (incidents outlast a part)", true
}

func (f incidentFamily) pick(rng *rand.Rand) trafficShape {
	shortest := logUniform(rng, f.from, f.to/2)
	longest := math.Min(f.to, shortest*logUniform(rng, 2, 8))
	return incidents{shortest: shortest, longest: longest, boost: logUniform(rng, 5, 50), both: f.both}
}

// tailFamily is heavy-tailed error events whose index each trace draws from lo to hi.
type tailFamily struct{ lo, hi float64 }

func (f tailFamily) name() string {
	return fmt.Sprintf("heavy-tailed clusters, index %g-%g (drawn)", f.lo, f.hi)
}

func (tailFamily) tries() (string, bool) {
	return "errors are independent events (a rare event makes hundreds)", true
}

func (f tailFamily) pick(rng *rand.Rand) trafficShape {
	return heavyTails{f.lo + rng.Float64()*(f.hi-f.lo)}
}

// clusterFamily is errors in clusters whose mean size each trace draws from 2 to 20.
type clusterFamily struct{}

func (clusterFamily) name() string { return "clustered errors, 2-20 a cluster (drawn)" }
func (clusterFamily) tries() (string, bool) {
	return "errors are independent events", true
}
func (clusterFamily) pick(rng *rand.Rand) trafficShape { return clustersOf{logUniform(rng, 2, 20)} }

// clustersOf is errors in clusters of a mean size.
type clustersOf struct{ size float64 }

func (c clustersOf) name() string                             { return fmt.Sprintf("clustered errors, %.1f a cluster", c.size) }
func (clustersOf) tries() (string, bool)                      { return "errors are independent events", true }
func (c clustersOf) apply(t *traffic, _, _ int, _ *rand.Rand) { t.cluster = c.size }

// driftFamily is a base error rate that drifts through the step, in both versions: each
// trace draws how many times the rate at the start it ends at, from a third to three.
type driftFamily struct{}

func (driftFamily) name() string { return "base rate drifting x0.33-3 within the step (drawn)" }
func (driftFamily) tries() (string, bool) {
	return "the base error rate drops out (it drifts within the step)", false
}
func (driftFamily) pick(rng *rand.Rand) trafficShape { return drifting{logUniform(rng, 1.0/3, 3)} }

// drifting is a base error rate that moves geometrically from its value to factor times it
// over the step.
type drifting struct{ factor float64 }

func (d drifting) name() string { return fmt.Sprintf("base rate drifting x%.2f", d.factor) }
func (drifting) tries() (string, bool) {
	return "the base error rate drops out (it drifts within the step)", false
}
func (d drifting) apply(t *traffic, i, n int, _ *rand.Rand) {
	t.baseRate *= math.Pow(d.factor, float64(i)/float64(n-1))
}

// seconds writes a duration in seconds as a person would: 30 s, 2 min, 8 min.
func seconds(s float64) string {
	if s >= 120 && math.Mod(s, 60) == 0 {
		return fmt.Sprintf("%g min", s/60)
	}
	return fmt.Sprintf("%g s", s)
}
