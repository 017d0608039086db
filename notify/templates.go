package notify

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"time"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// A NotificationProvider's templates shape the title and the text of its messages, by kind
// of news; every message type (Slack, Teams, webhook) puts them where it puts Tranche's own
// words. A template that fails is never half used: the message goes out with the default
// words, and the provider's Ready condition says why.

// Templates are a provider's message templates, parsed.
type Templates struct {
	byKind map[string]parsedTemplate // by kind, and trancheapi.TemplateDefault
}

type parsedTemplate struct {
	title, text *template.Template // nil: Tranche's words
}

// ParseTemplates parses a provider's templates. The error names the template that does not
// parse and says where.
func ParseTemplates(spec map[string]trancheapi.MessageTemplate) (Templates, error) {
	t := Templates{byKind: map[string]parsedTemplate{}}
	var errs []error
	for kind, m := range spec {
		var p parsedTemplate
		for _, part := range []struct {
			name, text string
			into       **template.Template
		}{{"title", m.Title, &p.title}, {"text", m.Text, &p.text}} {
			if part.text == "" {
				continue
			}
			tmpl, err := template.New(kind + "." + part.name).Option("missingkey=error").Parse(part.text)
			if err != nil {
				errs = append(errs, fmt.Errorf("templates.%s.%s: %w", kind, part.name, unprefixed(err)))
				continue
			}
			*part.into = tmpl
		}
		t.byKind[kind] = p
	}
	return t, errors.Join(sortedErrors(errs)...)
}

// CheckTemplates parses a provider's templates and renders those that parse on the sample
// news of every kind they apply to (see Sample): nil when every message renders.
func CheckTemplates(spec map[string]trancheapi.MessageTemplate) error {
	t, err := ParseTemplates(spec)
	errs := []error{err}
	for _, kind := range Kinds {
		if _, err := t.Apply(Sample(kind)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// TemplateData is what a template sees (docs/notifications.md lists it for users).
type TemplateData struct {
	Kind      Kind   // Started, StepReached, ..., Stalled
	Severity  string // Info or Error
	Rollout   string
	Namespace string
	Cluster   string // the manager's --cluster-name
	// Title is Tranche's heading of the news without the Rollout's name: "promoted".
	Title string
	// Message is the controller's words, Tranche's text of the message.
	Message  string
	Phase    trancheapi.Phase
	Stable   string // revisions
	Canary   string
	Step     int      // 1-based: the step under way, or the one rolled back from; 0 otherwise
	Steps    []string // each step's label: 5%, match, mirror 100%
	Weight   int32    // the canary's percent of the traffic
	Primary  int32    // the primary's
	Checks   []Check  // each metric's latest result: .Metric .Value .Threshold .Verdict
	Commands Commands
	At       time.Time
}

// Commands are what a person runs about the Rollout.
type Commands struct {
	Promote, Abort, Get string
}

// templateOutputMax bounds what a template may write: a message is read at a glance, and
// every message type cuts it to far less.
const templateOutputMax = 64 << 10

// Apply returns n with the title and text its kind's template makes, part by part: a part
// the kind's template leaves out is the Default template's, else Tranche's words. On error,
// which names the template, n is returned as it was.
func (t Templates) Apply(n News) (News, error) {
	p, fallback := t.byKind[string(n.Kind)], t.byKind[trancheapi.TemplateDefault]
	p.title, p.text = cmp.Or(p.title, fallback.title), cmp.Or(p.text, fallback.text)
	data := templateData(n)
	out := n
	for _, part := range []struct {
		tmpl *template.Template
		into *string
	}{{p.title, &out.Headline}, {p.text, &out.Message}} {
		if part.tmpl == nil {
			continue
		}
		w := &limitedBuilder{max: templateOutputMax}
		if err := part.tmpl.Execute(w, data); err != nil {
			return n, fmt.Errorf("templates.%s, for news %s: %w", part.tmpl.Name(), n.Kind, unprefixed(err))
		}
		*part.into = strings.TrimSpace(w.String())
	}
	return out, nil
}

func templateData(n News) TemplateData {
	return TemplateData{
		Kind: n.Kind, Severity: string(n.Kind.Severity()), Rollout: n.Rollout, Namespace: n.Namespace, Cluster: n.Cluster,
		Title: titles[n.Kind], Message: n.Message, Phase: n.Phase, Stable: n.Stable, Canary: n.Canary,
		Step: n.Step, Steps: n.Steps, Weight: n.Weight, Primary: 100 - n.Weight, Checks: n.Checks, At: n.At,
		Commands: Commands{
			Promote: fmt.Sprintf("kubectl tranche promote %s -n %s", n.Rollout, n.Namespace),
			Abort:   fmt.Sprintf("kubectl tranche abort %s -n %s", n.Rollout, n.Namespace),
			Get:     fmt.Sprintf("kubectl tranche get %s -n %s", n.Rollout, n.Namespace),
		},
	}
}

// limitedBuilder fails a template that writes more than max bytes.
type limitedBuilder struct {
	strings.Builder
	max int
}

func (b *limitedBuilder) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, fmt.Errorf("it writes more than %d KiB", b.max>>10)
	}
	return b.Builder.Write(p)
}

// unprefixed drops text/template's "template: name:" prefix: the callers name the template.
func unprefixed(err error) error {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "template: "); ok {
		if i := strings.Index(rest, ":"); i >= 0 {
			return errors.New("at " + strings.TrimSpace(rest[i+1:]))
		}
	}
	return err
}

// sortedErrors sorts errors by their text: the templates are a map.
func sortedErrors(errs []error) []error {
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}
