package providers_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

func TestCanaryPercent(t *testing.T) {
	for _, tc := range []struct {
		primary, canary, want int32
		err                   bool
	}{
		{100, 0, 0, false},
		{95, 5, 5, false},
		{0, 100, 100, false},
		{3, 1, 25, false},  // weights a person wrote need not add up to 100
		{0, 7, 100, false}, // a lone canary takes everything
		{2, 1, 33, false},  // rounded to the nearest percent
		{1, 2, 67, false},
		{0, 0, 0, true}, // nowhere to send requests
		{-1, 1, 0, true},
	} {
		got, err := providers.CanaryPercent(tc.primary, tc.canary)
		if tc.err {
			assert.Error(t, err, "%d/%d", tc.primary, tc.canary)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%d/%d", tc.primary, tc.canary)
	}
}

func TestSplitReadsBack(t *testing.T) {
	for w := int32(0); w <= 100; w++ {
		primary, canary := providers.Split(w)
		assert.Equal(t, int32(100), primary+canary)
		got, err := providers.CanaryPercent(primary, canary)
		require.NoError(t, err)
		assert.Equal(t, w, got)
	}
}

func TestValidate(t *testing.T) {
	assert.NoError(t, traffic.Routes{}.Validate())
	assert.NoError(t, traffic.Routes{CanaryWeight: 100, MirrorPercent: 100}.Validate())
	assert.Error(t, traffic.Routes{CanaryWeight: 101}.Validate())
	assert.Error(t, traffic.Routes{CanaryWeight: -1}.Validate())
	assert.Error(t, traffic.Routes{MirrorPercent: 101}.Validate())
}

// Two splits are the same when they send the same requests the same way: header names
// compare as HTTP compares them, without regard to case (Istio keeps them in lower case), and
// an empty match type is Exact; values, query parameters and cookie names keep their case.
func TestRoutesEqualAsHTTPMatchesRequests(t *testing.T) {
	header := func(name, value string, kind trancheapi.MatchType) traffic.Routes {
		return traffic.Routes{Match: []trancheapi.HTTPMatch{{Headers: []trancheapi.StringMatch{{Name: name, Value: value, Type: kind}}}}}
	}
	query := func(name string) traffic.Routes {
		return traffic.Routes{Match: []trancheapi.HTTPMatch{{QueryParams: []trancheapi.StringMatch{{Name: name, Value: "on"}}}}}
	}
	cases := []struct {
		name  string
		a, b  traffic.Routes
		equal bool
	}{
		{"the same weight", traffic.Routes{CanaryWeight: 5}, traffic.Routes{CanaryWeight: 5}, true},
		{"another weight", traffic.Routes{CanaryWeight: 5}, traffic.Routes{CanaryWeight: 50}, false},
		{"another mirror", traffic.Routes{MirrorPercent: 10}, traffic.Routes{}, false},
		{"a header name in lower case", header("X-Tester", "insider", trancheapi.MatchExact), header("x-tester", "insider", trancheapi.MatchExact), true},
		{"a header value in another case", header("x-tester", "Insider", trancheapi.MatchExact), header("x-tester", "insider", trancheapi.MatchExact), false},
		{"no type is Exact", header("x-tester", "insider", ""), header("x-tester", "insider", trancheapi.MatchExact), true},
		{"another type", header("x-tester", "insider", trancheapi.MatchPrefix), header("x-tester", "insider", trancheapi.MatchExact), false},
		{"a query parameter in another case", query("Beta"), query("beta"), false},
		{"a match against none", header("x-tester", "insider", ""), traffic.Routes{}, false},
		{"affinity against none", traffic.Routes{CanaryWeight: 5, Sticky: &traffic.Sticky{Cookie: "c", MaxAge: time.Hour}}, traffic.Routes{CanaryWeight: 5}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.equal, tc.a.Equal(tc.b))
			assert.Equal(t, tc.equal, tc.b.Equal(tc.a), "either way round")
		})
	}
}
