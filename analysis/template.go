package analysis

import (
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/common/model"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Render fills a MetricTemplate's query, a Go text/template, with a Rollout's variables.
//
// Every value is escaped so that, inside a PromQL string literal, it reads back as itself and
// cannot end the literal: a backslash becomes \\, control characters become \n, \t, \xNN
// and so on, and the three quote characters (" ' `) become \x22, \x27 and \x60, which close
// no kind of literal. So a name can change what a matcher compares with, never the shape of
// the query. Put variables inside double- or single-quoted strings: in a raw `...` string
// the escapes are not decoded (they stay harmless, but do not match).
//
// Values are not escaped for regular expressions. In a matcher such as
// pod=~"{{ .Canary }}-[a-z0-9]+-[a-z0-9]+", a Kubernetes name holds no metacharacter but
// '.', and '.' matches itself (and any other character): "my.app" also matches a Deployment
// "myxapp" in the same namespace, a collision we accept rather than break equality matchers
// (=, !=), where an escaped \. would no longer match the name.
//
// A variable that the query uses must be known and not empty (an empty namespace would turn
// a matcher into "series without the label"), and a non-empty Interval or Window must be a
// positive PromQL duration such as 30s, 1m or 1m30s.
func Render(query string, vars Vars) (string, error) {
	data, err := vars.templateData()
	if err != nil {
		return "", err
	}
	tmpl, err := template.New("query").Option("missingkey=error").Parse(query)
	if err != nil {
		return "", fmt.Errorf("query template: %w", err)
	}
	var out strings.Builder
	if err := tmpl.Execute(&out, data); err != nil {
		return "", explainExecError(err)
	}
	return out.String(), nil
}

// varNames are the variables a query may use, in the order of Vars.
var varNames = []string{"Rollout", "Namespace", "Target", "Primary", "Canary", "Service", "Interval", "Workload", "WorkloadService", "Window"}

// templateData holds the escaped, non-empty variables. A map rather than Vars itself, so that
// missingkey=error refuses a variable without a value as well as one that does not exist.
func (v Vars) templateData() (map[string]string, error) {
	for name, d := range map[string]string{"interval": v.Interval, "window": v.Window} {
		if d != "" {
			if err := checkDuration(name, d); err != nil {
				return nil, err
			}
		}
	}
	values := []string{v.Rollout, v.Namespace, v.Target, v.Primary, v.Canary, v.Service, v.Interval, v.Workload, v.WorkloadService, v.Window}
	data := make(map[string]string, len(values))
	for i, value := range values {
		if value != "" {
			data[varNames[i]] = escape(value)
		}
	}
	return data, nil
}

func checkDuration(name, value string) error {
	d, err := model.ParseDuration(value)
	if err != nil || d <= 0 {
		return fmt.Errorf("%s %q is not a positive PromQL duration such as 30s, 1m or 1m30s", name, value)
	}
	return nil
}

var missingKey = regexp.MustCompile(`map has no entry for key "([^"]*)"`)

// explainExecError turns text/template's "map has no entry" into words a template's author
// can act on.
func explainExecError(err error) error {
	m := missingKey.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("query template: %w", err)
	}
	for _, name := range varNames {
		if m[1] == name {
			return fmt.Errorf("query template uses {{ .%s }}, which has no value for this Rollout", name)
		}
	}
	return fmt.Errorf("query template uses {{ .%s }}, which is not a variable: use %s", m[1], strings.Join(prefixed(varNames), ", "))
}

func prefixed(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "." + n
	}
	return out
}

// escape writes s so that it reads back as s inside any quoted PromQL string literal; see
// Render. PromQL decodes a literal's escapes as Go does (\\, \n, \xNN, \uNNNN, \UNNNNNNNN).
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i]) // not UTF-8: keep the byte
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '"' || r == '\'' || r == '`' || r < utf8.RuneSelf && !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case !unicode.IsPrint(r) && r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r) // such as a bidi control that would hide text
		case !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// PromDuration writes d as a PromQL range, such as 1m30s for 90s or 500ms, for Vars.Interval.
// PromQL counts in milliseconds, so less is dropped; a duration under 1ms, or negative, gives
// "0s", which Render refuses as an Interval.
func PromDuration(d time.Duration) string {
	if d < time.Millisecond {
		return "0s"
	}
	return model.Duration(d).String()
}

// ForWorkload are the variables of a Compare query for one workload: the canary (the target
// Deployment and the <target>-canary Service) or the primary, over window.
func (v Vars) ForWorkload(ro *trancheapi.Rollout, canary bool, window time.Duration) Vars {
	names := ro.ServiceNames()
	v.Workload, v.WorkloadService = names.Primary, names.Primary
	if canary {
		v.Workload, v.WorkloadService = ro.Spec.TargetRef.Name, names.Canary
	}
	v.Window = PromDuration(window)
	return v
}

// VarsOfPrimary are VarsFor with the primary as the workload measured ({{ .Workload }} and
// {{ .WorkloadService }}) and in the canary's place ({{ .Canary }} is the primary Deployment,
// {{ .Primary }} the target), so that a query about the workload measured, or naming the
// canary's Deployment, measures the primary.
func VarsOfPrimary(ro *trancheapi.Rollout) Vars {
	v := VarsFor(ro)
	names := ro.ServiceNames()
	v.Workload, v.WorkloadService = names.Primary, names.Primary
	v.Canary, v.Primary = v.Primary, v.Canary
	return v
}

// VarsFor are the values a Rollout's query templates get: its names, those of the workloads
// and Services Tranche makes for it, and its analysis interval.
func VarsFor(ro *trancheapi.Rollout) Vars {
	names := ro.ServiceNames()
	return Vars{
		Rollout:   ro.Name,
		Namespace: ro.Namespace,
		Target:    ro.Spec.TargetRef.Name,
		Primary:   ro.PrimaryName(),
		Canary:    ro.Spec.TargetRef.Name,
		Service:   names.Apex,
		Interval:  PromDuration(ro.Spec.EffectiveInterval()),
		// The workload a threshold query measures: the canary (the primary in VarsOfPrimary).
		Workload:        ro.Spec.TargetRef.Name,
		WorkloadService: names.Canary,
	}
}
