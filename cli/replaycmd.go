package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/cli/lint"
	"github.com/tranche-dev/tranche/cli/replay"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/registry"
)

func newReplayCommand(o *Options) *cobra.Command {
	var files []string
	var since time.Duration
	var from, to, prometheus string
	cmd := &cobra.Command{
		Use:   "replay ROLLOUT [--since 7d | --from T --to T] [-f proposed.yaml] --prometheus URL",
		Short: "Judge a Rollout's past rollouts again, with its analysis or a proposed one, on Prometheus' data of then",
		Long: "Find the past rollouts of a Rollout in its status.history (the last ten) and run an analysis over each\n" +
			"step's recorded window, at the times the controller's runs would have been made, with the controller's\n" +
			"judges, on what Prometheus holds of then. Prints what happened and what the analysis would have done, and\n" +
			"when. With -f, the analysis of the Rollout of the same name in the file is judged, with the MetricTemplates\n" +
			"in the file in place of the cluster's; otherwise the Rollout's own. --prometheus answers every query;\n" +
			"without it each MetricTemplate's own Prometheus does, and built-in metrics have none.",
		Args:              oneRollout,
		ValidArgsFunction: o.completeRollouts,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, key, err := o.rollout(args[0])
			if err != nil {
				return err
			}
			opts := ReplayOptions{Rollout: key, Prometheus: prometheus, Now: time.Now()}
			if opts.From, opts.To, err = replaySpan(since, from, to, opts.Now); err != nil {
				return err
			}
			for _, file := range files {
				docs, err := readDocuments(o, file)
				if err != nil {
					return err
				}
				opts.Proposed = append(opts.Proposed, docs...)
			}
			replayed, err := Replay(cmd.Context(), c, opts)
			if err != nil {
				return err
			}
			return RenderReplay(o.Streams.Out, replayed, opts.Now)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "File with the proposed Rollout and MetricTemplates (YAML or JSON; - for standard input). Repeat for more.")
	cmd.Flags().Var((*dayDuration)(&since), "since", "Replay the rollouts that started this long ago or later (7d, 36h). Default: all those in the history.")
	cmd.Flags().StringVar(&from, "from", "", "Replay the rollouts that started at this time (RFC 3339) or later.")
	cmd.Flags().StringVar(&to, "to", "", "Replay the rollouts that started at this time (RFC 3339) or earlier.")
	cmd.Flags().StringVar(&prometheus, "prometheus", "", "Prometheus URL that answers every query (one that holds the rollouts' time; kubectl port-forward reaches one in the cluster).")
	return cmd
}

// dayDuration is a duration flag that also takes days, as 7d.
type dayDuration time.Duration

func (d *dayDuration) String() string { return time.Duration(*d).String() }
func (d *dayDuration) Type() string   { return "duration" }
func (d *dayDuration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n float64
		n, err = strconv.ParseFloat(days, 64)
		v = time.Duration(n * float64(24*time.Hour))
	}
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration: give one such as 7d or 36h", s)
	}
	*d = dayDuration(v)
	return nil
}

// replaySpan is the span of start times the flags ask for; zero times leave an end open.
func replaySpan(since time.Duration, from, to string, now time.Time) (time.Time, time.Time, error) {
	var start, end time.Time
	if since > 0 && from != "" {
		return start, end, errors.New("give --since or --from, not both")
	}
	if since > 0 {
		start = now.Add(-since)
	}
	for _, t := range []struct {
		flag, value string
		into        *time.Time
	}{{"--from", from, &start}, {"--to", to, &end}} {
		if t.value == "" {
			continue
		}
		parsed, err := time.Parse(time.RFC3339, t.value)
		if err != nil {
			return start, end, fmt.Errorf("%s %q: give a time as 2006-01-02T15:04:05Z", t.flag, t.value)
		}
		*t.into = parsed
	}
	return start, end, nil
}

// ReplayOptions say which past rollouts to judge again, and with what.
type ReplayOptions struct {
	Rollout types.NamespacedName
	// Proposed holds a Rollout of the same name whose analysis is judged in place of the
	// cluster's, and MetricTemplates used in place of the cluster's; empty: the Rollout's own.
	Proposed []lint.Document
	// From and To bound the start times of the rollouts judged; zero leaves an end open.
	From, To time.Time
	// Prometheus answers every query when set; else each MetricTemplate's own address.
	Prometheus string
	// Now is when a rollout still under way is judged up to.
	Now time.Time
}

// Replayed is the judgement of a Rollout's past rollouts.
type Replayed struct {
	Rollout *trancheapi.Rollout // its spec is the analysis judged
	// Proposed is true when the analysis is the one of ReplayOptions.Proposed.
	Proposed   bool
	Judgements []replay.Judgement // newest first, as in the history
}

// Replay reads the Rollout and judges its past rollouts again.
func Replay(ctx context.Context, c client.Client, opts ReplayOptions) (Replayed, error) {
	live := &trancheapi.Rollout{}
	if err := c.Get(ctx, opts.Rollout, live); err != nil {
		return Replayed{}, err
	}
	judged, templates, err := proposal(ctx, live, opts.Proposed)
	if err != nil {
		return Replayed{}, err
	}
	r := Replayed{Rollout: judged, Proposed: judged != live}
	if !judged.Spec.HasAnalysis() || len(judged.Spec.Analysis.Metrics) == 0 {
		return r, errors.New("the analysis has no metrics to replay (webhooks and the traffic check are not replayed)")
	}
	metrics, err := replayMetrics(ctx, c, judged, templates, opts.Prometheus)
	if err != nil {
		return r, err
	}
	for _, rec := range live.Status.History {
		if !opts.From.IsZero() && rec.StartedAt.Time.Before(opts.From) || !opts.To.IsZero() && rec.StartedAt.After(opts.To) {
			continue
		}
		r.Judgements = append(r.Judgements, replay.Judge(ctx, judged, metrics, withCurrentStep(rec, live, opts.Now)))
	}
	return r, nil
}

// withCurrentStep is a record with the window of the step under way added, up to now, when
// the record is of the rollout under way.
func withCurrentStep(rec trancheapi.RolloutRecord, live *trancheapi.Rollout, now time.Time) trancheapi.RolloutRecord {
	st := live.Status
	if rec.EndedAt != nil || st.StepStartedAt == nil || !now.After(st.StepStartedAt.Time) ||
		len(st.History) == 0 || !st.History[0].StartedAt.Equal(&rec.StartedAt) {
		return rec
	}
	rec.Steps = append(slices.Clip(rec.Steps), trancheapi.StepRecord{
		Step: st.CurrentStep, Weight: st.CanaryWeight, StartedAt: *st.StepStartedAt, EndedAt: metav1.NewMicroTime(now),
	})
	return rec
}

// proposal is the Rollout whose analysis is judged, and the MetricTemplates proposed with
// it (by namespace/name): the live Rollout and none when nothing is proposed. The proposed
// objects are checked and defaulted as the API server would.
func proposal(ctx context.Context, live *trancheapi.Rollout, docs []lint.Document) (*trancheapi.Rollout, map[string]*trancheapi.MetricTemplate, error) {
	if len(docs) == 0 {
		return live, nil, nil
	}
	schemas, err := lint.LoadSchemas()
	if err != nil {
		return nil, nil, err
	}
	var judged *trancheapi.Rollout
	templates := map[string]*trancheapi.MetricTemplate{}
	for _, doc := range docs {
		obj := doc.Object
		kind := obj.GetKind()
		if obj.GroupVersionKind().Group != trancheapi.GroupVersion.Group || kind != "Rollout" && kind != "MetricTemplate" {
			continue
		}
		if obj.GetNamespace() == "" {
			obj.SetNamespace(live.Namespace)
		}
		defaulted, errs := schemas.Validate(ctx, obj)
		if len(errs) > 0 {
			return nil, nil, fmt.Errorf("%s: %s/%s: %v (kubectl tranche lint -f %s says more)", doc.Source, kind, obj.GetName(), errs.ToAggregate(), doc.Source)
		}
		switch {
		case kind == "MetricTemplate":
			tmpl := &trancheapi.MetricTemplate{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(defaulted.Object, tmpl); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", doc.Source, err)
			}
			templates[tmpl.Namespace+"/"+tmpl.Name] = tmpl
		case obj.GetName() == live.Name && obj.GetNamespace() == live.Namespace:
			judged = &trancheapi.Rollout{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(defaulted.Object, judged); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", doc.Source, err)
			}
		}
	}
	if judged == nil {
		return nil, nil, fmt.Errorf("the files hold no Rollout %s in namespace %s to judge with", live.Name, live.Namespace)
	}
	return judged, templates, nil
}

// replayMetrics finds where each metric's queries come from, as the controller does: the
// provider's built-in queries, or a MetricTemplate (a proposed one first).
func replayMetrics(ctx context.Context, c client.Client, ro *trancheapi.Rollout, proposed map[string]*trancheapi.MetricTemplate, prometheus string) ([]replay.Metric, error) {
	router, err := registry.Default().For(nil, ro)
	if err != nil {
		return nil, err
	}
	var metrics []replay.Metric
	for _, m := range ro.Spec.Analysis.Metrics {
		rm := replay.Metric{Metric: m}
		cfg := analysis.PrometheusConfig{Address: prometheus}
		if m.TemplateRef == nil {
			rm.Source.Query, rm.Err = providers.BuiltinQueries(router).Query(m.Builtin)
			if rm.Err == nil && prometheus == "" {
				return nil, fmt.Errorf("metric %s is built in: name the Prometheus that holds the rollouts' data with --prometheus (the manager's --prometheus-address)", m.Name)
			}
		} else {
			rm.Source, cfg, rm.Err = templateSource(ctx, c, ro, m, proposed, prometheus)
		}
		if rm.Err == nil {
			rm.Prometheus, rm.Err = analysis.NewPrometheus(cfg)
		}
		metrics = append(metrics, rm)
	}
	return metrics, nil
}

// templateSource reads a metric's MetricTemplate and the credentials it names, with the
// rights of whoever runs the plugin.
func templateSource(ctx context.Context, c client.Client, ro *trancheapi.Rollout, m trancheapi.Metric,
	proposed map[string]*trancheapi.MetricTemplate, prometheus string) (analysis.Source, analysis.PrometheusConfig, error) {
	cfg := analysis.PrometheusConfig{Address: prometheus}
	key := types.NamespacedName{Namespace: m.TemplateRef.Namespace, Name: m.TemplateRef.Name}
	if key.Namespace == "" {
		key.Namespace = ro.Namespace
	}
	tmpl, ok := proposed[key.String()]
	if !ok {
		tmpl = &trancheapi.MetricTemplate{}
		if err := c.Get(ctx, key, tmpl); err != nil {
			return analysis.Source{}, cfg, fmt.Errorf("reading MetricTemplate %s: %w", key, err)
		}
	}
	cfg = analysis.TemplateConfig(tmpl.Spec.Prometheus, "")
	if prometheus != "" {
		cfg.Address = prometheus
	}
	if p := tmpl.Spec.Prometheus; p != nil && p.SecretRef != nil {
		secret := &corev1.Secret{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: tmpl.Namespace, Name: p.SecretRef.Name}, secret); err != nil {
			return analysis.Source{}, cfg, fmt.Errorf("reading the credentials of MetricTemplate %s: %w", key, err)
		}
		cfg = cfg.WithCredentials(secret.Data)
	}
	if cfg.Address == "" {
		return analysis.Source{}, cfg, fmt.Errorf("MetricTemplate %s names no Prometheus: give one with --prometheus", key)
	}
	return analysis.Source{Query: tmpl.Spec.Query, Total: tmpl.Spec.TotalQuery, Template: tmpl.Name}, cfg, nil
}

// RenderReplay writes what replay found: per past rollout, what happened and what the
// analysis would have done.
func RenderReplay(w io.Writer, r Replayed, now time.Time) error {
	which := "its own analysis"
	if r.Proposed {
		which = "the proposed analysis"
	}
	fmt.Fprintf(w, "Rollout %s/%s: %d past rollout(s) judged with %s\n\n", r.Rollout.Namespace, r.Rollout.Name, len(r.Judgements), which)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REVISION\tSTARTED\tWHAT HAPPENED\tWHAT THE ANALYSIS WOULD HAVE DONE")
	otherwise := 0
	for _, j := range r.Judgements {
		would := wouldHave(j)
		if j.RollBack != nil && j.Record.Outcome == trancheapi.OutcomeSucceeded ||
			j.RollBack == nil && j.Record.Outcome == trancheapi.OutcomeFailed {
			otherwise++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", j.Record.Revision, j.Record.StartedAt.UTC().Format(time.RFC3339), happened(j, now), would)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, j := range r.Judgements {
		if j.RollBack != nil {
			fmt.Fprintf(w, "\n%s would have been rolled back: %s\n", j.Record.Revision, j.RollBack.Reason)
		}
		if j.Runs > 0 && j.NoData == j.Runs {
			fmt.Fprintf(w, "\n%s: Prometheus had data for no metric at any run (is the rollout older than its retention?)\n", j.Record.Revision)
		}
	}
	fmt.Fprintf(w, "\n%d of %d would have ended otherwise (a success rolled back, or a failure let through)\n", otherwise, len(r.Judgements))
	return nil
}

// happened is how a past rollout ended, and how long it took.
func happened(j replay.Judgement, now time.Time) string {
	rec := j.Record
	if rec.EndedAt == nil {
		return fmt.Sprintf("under way for %s", now.Sub(rec.StartedAt.Time).Round(time.Second))
	}
	took := rec.EndedAt.Sub(rec.StartedAt.Time).Round(time.Second)
	if rec.Outcome == trancheapi.OutcomeSucceeded || len(rec.Steps) == 0 {
		return fmt.Sprintf("%s after %s", rec.Outcome, took)
	}
	last := rec.Steps[len(rec.Steps)-1]
	return fmt.Sprintf("%s after %s, at step %d/%d (%d%%)", rec.Outcome, took, last.Step+1, j.Steps, last.Weight)
}

// wouldHave is what the analysis would have done, and when.
func wouldHave(j replay.Judgement) string {
	switch {
	case j.RollBack != nil:
		return fmt.Sprintf("rolled back at %s, %s in, in step %d/%d (%d%%)", j.RollBack.At.UTC().Format(time.TimeOnly),
			j.RollBack.At.Sub(j.Record.StartedAt.Time).Round(time.Second), j.RollBack.Step+1, j.Steps, j.RollBack.Weight)
	case j.Runs == 0:
		return "no run: the steps held less than an analysis interval"
	case j.Promoted():
		return fmt.Sprintf("promoted: %d runs, none rolling back", j.Runs)
	}
	return fmt.Sprintf("not rolled back in the %s recorded (%d runs)", j.Judged.Round(time.Second), j.Runs)
}
