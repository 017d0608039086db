package analysis_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

var podinfo = analysis.Vars{
	Rollout:   "podinfo",
	Namespace: "shop",
	Target:    "podinfo",
	Primary:   "podinfo-primary",
	Canary:    "podinfo",
	Service:   "podinfo",
	Interval:  "1m",
}

func mustRender(t *testing.T, query string, vars analysis.Vars) string {
	t.Helper()
	out, err := analysis.Render(query, vars)
	require.NoError(t, err)
	return out
}

func with(change func(*analysis.Vars)) analysis.Vars {
	v := podinfo
	change(&v)
	return v
}

func TestRender(t *testing.T) {
	tests := []struct {
		name  string
		query string
		vars  analysis.Vars
		want  string
	}{{
		name:  "every variable",
		query: `{{ .Rollout }} {{ .Namespace }} {{ .Target }} {{ .Primary }} {{ .Canary }} {{ .Service }} {{ .Interval }}`,
		vars:  podinfo,
		want:  `podinfo shop podinfo podinfo-primary podinfo podinfo 1m`,
	}, {
		name:  "a typical query",
		query: `sum(rate(http_requests_total{namespace="{{ .Namespace }}",pod=~"{{ .Canary }}-[a-z0-9]+-[a-z0-9]+",code=~"5.."}[{{ .Interval }}]))`,
		vars:  with(func(v *analysis.Vars) { v.Canary = "web.v2"; v.Interval = "1m30s" }),
		want:  `sum(rate(http_requests_total{namespace="shop",pod=~"web.v2-[a-z0-9]+-[a-z0-9]+",code=~"5.."}[1m30s]))`,
	}, {
		name:  "template functions still work",
		query: `{{ printf "%s-canary" .Target }}{{ if eq .Namespace "shop" }} in shop{{ end }}`,
		vars:  podinfo,
		want:  `podinfo-canary in shop`,
	}, {
		name:  "a double quote cannot close the literal",
		query: `up{namespace="{{ .Namespace }}"}`,
		vars:  with(func(v *analysis.Vars) { v.Namespace = `x"} or vector(1) or up{a="` }),
		want:  `up{namespace="x\x22} or vector(1) or up{a=\x22"}`,
	}, {
		name:  "a single quote or backtick cannot close theirs",
		query: `up{namespace='{{ .Namespace }}'}`,
		vars:  with(func(v *analysis.Vars) { v.Namespace = "x'`" }),
		want:  `up{namespace='x\x27\x60'}`,
	}, {
		name:  "a backslash cannot escape the closing quote",
		query: `up{namespace="{{ .Namespace }}"}`,
		vars:  with(func(v *analysis.Vars) { v.Namespace = `x\` }),
		want:  `up{namespace="x\\"}`,
	}, {
		name:  "control characters, invalid UTF-8 and hidden runes are written as escapes",
		query: `{{ .Service }}`,
		vars:  with(func(v *analysis.Vars) { v.Service = "a\nb\tc\rd\x00e\xffé\u202e" }),
		want:  `a\nb\tc\rd\x00e\xffé\u202e`,
	}, {
		name:  "unused empty variables are fine",
		query: `up{namespace="{{ .Namespace }}"}`,
		vars:  analysis.Vars{Namespace: "shop"},
		want:  `up{namespace="shop"}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, mustRender(t, tt.query, tt.vars))
		})
	}
}

func TestRenderRefuses(t *testing.T) {
	tests := []struct {
		name  string
		query string
		vars  analysis.Vars
		want  string
	}{
		{"unknown variable", `up{a="{{ .Deployment }}"}`, podinfo, "{{ .Deployment }}, which is not a variable: use .Rollout, .Namespace"},
		{"wrong case", `{{ .namespace }}`, podinfo, "{{ .namespace }}, which is not a variable"},
		{"empty variable", `up{namespace="{{ .Namespace }}"}`, analysis.Vars{Service: "x"}, "{{ .Namespace }}, which has no value"},
		{"field of a string", `{{ .Namespace.Name }}`, podinfo, "query template"},
		{"not a template", `up{a="{{ .Namespace }"}`, podinfo, "query template"},
		{"interval without unit", `{{ .Interval }}`, with(func(v *analysis.Vars) { v.Interval = "30" }), `interval "30" is not a positive PromQL duration`},
		{"Go-only interval", `{{ .Interval }}`, with(func(v *analysis.Vars) { v.Interval = "1.5m" }), `interval "1.5m"`},
		{"units out of order", `{{ .Interval }}`, with(func(v *analysis.Vars) { v.Interval = "30s1m" }), `interval "30s1m"`},
		{"zero interval", `{{ .Interval }}`, with(func(v *analysis.Vars) { v.Interval = "0s" }), `interval "0s"`},
		{"interval with PromQL", `{{ .Interval }}`, with(func(v *analysis.Vars) { v.Interval = "1m] or vector(1) #" }), "not a positive PromQL duration"},
		{"bad interval, even unused", `up`, with(func(v *analysis.Vars) { v.Interval = "soon" }), `interval "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := analysis.Render(tt.query, tt.vars)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestPromDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{30 * time.Second, "30s"},
		{time.Minute, "1m"},
		{90 * time.Second, "1m30s"},
		{500 * time.Millisecond, "500ms"},
		{1500 * time.Millisecond, "1s500ms"},
		{2*time.Hour + 5*time.Minute, "2h5m"},
		{24 * time.Hour, "1d"},
		{1500 * time.Microsecond, "1ms"},
		{time.Microsecond, "0s"},
		{0, "0s"},
		{-time.Minute, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.in.String(), func(t *testing.T) {
			got := analysis.PromDuration(tt.in)
			assert.Equal(t, tt.want, got)
			if tt.in >= time.Millisecond {
				// What PromDuration writes, Render takes as an Interval.
				_, err := analysis.Render(`{{ .Interval }}`, analysis.Vars{Interval: got})
				assert.NoError(t, err)
			}
		})
	}
}

// FuzzRender checks that Render never panics, whatever the template, and that no value can
// leave the string literal it is put in: the rendered query holds exactly one literal where
// the template has one, and that literal reads back as the value.
func FuzzRender(f *testing.F) {
	for _, seed := range []string{"shop", `x"} or vector(1) #`, `\`, `\"`, "a\nb", "'`", "\xff\xfe", "é\u202e", `\x22`, ""} {
		f.Add(`{{ .Namespace }}`, seed, "podinfo")
	}
	f.Add(`{{ .Namespace.X }}{{ template "x" }}{{ slice .Service 9 }}`, "shop", "podinfo")
	f.Fuzz(func(t *testing.T, query, namespace, service string) {
		vars := analysis.Vars{Namespace: namespace, Service: service, Interval: "1m"}
		_, _ = analysis.Render(query, vars)

		out, err := analysis.Render(`up{a="{{ .Namespace }}",b='{{ .Service }}'}`, vars)
		if err != nil {
			require.True(t, namespace == "" || service == "", "refused %q, %q: %v", namespace, service, err)
			return
		}
		require.True(t, strings.HasPrefix(out, `up{a="`) && strings.HasSuffix(out, `'}`), out)
		a, rest, ok := cutLiteral(out[len(`up{a=`):])
		require.True(t, ok, "the first literal does not end: %q", out)
		require.True(t, strings.HasPrefix(rest, `,b=`), "after the first literal: %q", rest)
		b, rest, ok := cutLiteral(rest[len(`,b=`):])
		require.True(t, ok, "the second literal does not end: %q", out)
		require.Equal(t, "}", rest)

		got, err := strconv.Unquote(a)
		require.NoError(t, err, a)
		assert.Equal(t, namespace, got)
		got, err = strconv.Unquote(`"` + b[1:len(b)-1] + `"`) // Go has no single-quoted strings
		require.NoError(t, err, b)
		assert.Equal(t, service, got)
	})
}

// cutLiteral reads the quoted string s starts with as PromQL's lexer does (a backslash
// escapes the next character; a newline is an error) and returns it, with what follows.
func cutLiteral(s string) (literal, rest string, ok bool) {
	if s == "" || (s[0] != '"' && s[0] != '\'') {
		return "", s, false
	}
	quote := s[0]
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '\n':
			return "", s, false
		case quote:
			return s[:i+1], s[i+1:], true
		}
	}
	return "", s, false
}

// A threshold query measures the canary; with the primary's variables, the same query
// measures the primary, whether it names the workload or the canary's Deployment.
func TestVarsOfPrimaryMeasureThePrimary(t *testing.T) {
	ro := &trancheapi.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "podinfo"},
		Spec: trancheapi.RolloutSpec{TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: "podinfo"}}}
	const query = `{{ .WorkloadService }} {{ .Workload }} {{ .Canary }} {{ .Primary }}`
	canary, err := analysis.Render(query, analysis.VarsFor(ro))
	require.NoError(t, err)
	assert.Equal(t, "podinfo-canary podinfo podinfo podinfo-primary", canary)
	primary, err := analysis.Render(query, analysis.VarsOfPrimary(ro))
	require.NoError(t, err)
	assert.Equal(t, "podinfo-primary podinfo-primary podinfo-primary podinfo", primary)
}
