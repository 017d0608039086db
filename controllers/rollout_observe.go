package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/tranche-dev/tranche/analysis"
	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers/planner"
	"github.com/tranche-dev/tranche/notify"
	"github.com/tranche-dev/tranche/providers"
)

// observe reads the world decide needs: the workloads and what the data plane is told.
func (r *RolloutReconciler) observe(ctx context.Context, s *scope) (planner.World, error) {
	ro := s.rollout
	names := ro.ServiceNames()
	w := planner.World{Now: planner.NextMillisecond(r.Now()), Rollout: ro, Autoscaler: autoscalingOf(s.autoscaler)}
	var err error
	if w.Group, err = r.groupOf(ctx, ro); err != nil {
		return w, err
	}
	if w.Autoscaler == nil {
		w.Declared = declaredReplicas(s.target, ro.Status.Target.DeclaredReplicas)
	} else {
		w.Autoscaler.Settled = settled(s.autoscaler, *w.Autoscaler, replicasOf(s.target))
	}
	target := workloadOf(s.target, false)
	target.Revision, target.Configured = revisionOf(*podTemplate(s.target), s.configs), len(s.configs) > 0
	if w.Target, err = r.servingReady(ctx, ro, names.Canary, target); err != nil {
		return w, err
	}
	primary := newWorkload(ro.Spec.TargetRef.Kind)
	key := types.NamespacedName{Namespace: ro.Namespace, Name: ro.PrimaryName()}
	switch err := r.Get(ctx, key, primary); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return w, err
	default:
		p, err := r.servingReady(ctx, ro, names.Primary, workloadOf(primary, true))
		if err != nil {
			return w, err
		}
		w.Primary = &p
	}
	routes, err := s.router.Routes(ctx, ro)
	switch {
	case err == nil:
		w.Routes = routes
		if w.Acceptance, err = s.router.Acceptance(ctx, ro); err != nil {
			return w, fmt.Errorf("reading the data plane's word on the routes: %w", err)
		}
	case apierrors.IsNotFound(err) && (ro.Status.Phase == "" || ro.Status.Phase == trancheapi.PhaseInitializing):
		// None yet: they are made once the primary serves.
		w.RoutesUnknown = true
	case errors.Is(err, providers.ErrUnreadable):
		// What a person left there is not a split: decide writes the one it wants.
		ctrl.LoggerFrom(ctx).Info("Routes cannot be read back; they will be set again", "reason", err.Error())
		w.RoutesUnknown = true
	default:
		return w, fmt.Errorf("reading the routes back: %w", err)
	}
	return w, nil
}

// answer fetches what decide asked for: an analysis run, or a gate's answer.
func (r *RolloutReconciler) answer(ctx context.Context, s *scope, w planner.World, n planner.Need) (planner.World, error) {
	ro := s.rollout
	if n.Analysis {
		checks, err := r.runAnalysis(ctx, ro, s.router, w.Now, w.Target.Revision)
		if err != nil {
			return w, err
		}
		w.Analysis = &planner.AnalysisRun{Checks: checks}
	}
	if n.Gate != "" {
		if w.Gates == nil {
			w.Gates = map[trancheapi.WebhookType]planner.GateAnswer{}
		}
		w.Gates[n.Gate] = r.askGate(ctx, ro, n.Gate, w.Target.Revision)
	}
	if n.PrimaryAnalysis {
		checks, err := r.runPrimaryAnalysis(ctx, ro, s.router, w.Now)
		if err != nil {
			return w, err
		}
		w.PrimaryAnalysis = &planner.AnalysisRun{Checks: checks}
	}
	if n.Earlier {
		earlier, err := r.earlier(ctx, s)
		if err != nil {
			return w, err
		}
		w.Earlier = earlier
	}
	return w, nil
}

// runAnalysis evaluates every metric and calls every Rollout webhook once. It fails, and
// makes no run, when the API server fails to give what a metric's query needs (see
// errRunNotMade).
func (r *RolloutReconciler) runAnalysis(ctx context.Context, ro *trancheapi.Rollout, router providers.Router, now time.Time, revision string) ([]trancheapi.CheckResult, error) {
	at := metav1.NewMicroTime(now)
	var checks []trancheapi.CheckResult
	metrics, dryRun := ro.Spec.Analysis.Metrics, ro.Spec.Analysis.DryRun
	if m, ok := trafficCheck(ro); ok {
		metrics = append(slices.Clip(metrics), m)
	}
	for _, m := range metrics {
		builtins := func() providers.Queries { return providers.BuiltinQueries(router) }
		c := r.evaluate(ctx, ro, builtins, m, func(q analysis.CompareQuerier, src analysis.Source) analysis.Check {
			return analysis.EvaluateMetric(ctx, q, ro, m, src, stepWindowOf(ro), now)
		})
		if errors.Is(c.Err, errRunNotMade) {
			return nil, c.Err
		}
		result := c.Result(dryRun || m.DryRun, now)
		if m.Name == trafficCheckName && c.Err == nil && c.Verdict == trancheapi.VerdictFail {
			result.Message = trafficMessage(m, result.Value)
		}
		checks = append(checks, result)
	}
	for _, hook := range ro.Spec.WebhooksOf(trancheapi.WebhookRollout) {
		result := trancheapi.CheckResult{Metric: trancheapi.WebhookCheckPrefix + hook.Name, Verdict: trancheapi.VerdictPass, DryRun: dryRun, At: at}
		if err := r.callWebhook(ctx, hook, payloadFor(ro, hook, revision, "")); err != nil {
			result.Verdict, result.Message = trancheapi.VerdictFail, err.Error()
		}
		checks = append(checks, result)
	}
	return checks, nil
}

// runPrimaryAnalysis measures the primary with the Rollout's threshold metrics (a built-in
// on the primary's series, a MetricTemplate's query with the primary in the canary's place),
// for a paced rollback handing the primary its traffic back. A built-in the provider cannot
// tell the primary's series of is left out.
func (r *RolloutReconciler) runPrimaryAnalysis(ctx context.Context, ro *trancheapi.Rollout, router providers.Router, now time.Time) ([]trancheapi.CheckResult, error) {
	primaryQueries, primarySeries := providers.BuiltinQueriesOfPrimary(router)
	builtins := func() providers.Queries { return primaryQueries }
	var checks []trancheapi.CheckResult
	for _, m := range ro.Spec.Analysis.Metrics {
		if m.Judge == trancheapi.JudgeCompare || m.DryRun || (m.TemplateRef == nil && !primarySeries) {
			continue
		}
		c := r.evaluate(ctx, ro, builtins, m, func(q analysis.CompareQuerier, src analysis.Source) analysis.Check {
			return analysis.EvaluatePrimary(ctx, q, ro, m, src, now)
		})
		if errors.Is(c.Err, errRunNotMade) {
			return nil, c.Err
		}
		checks = append(checks, c.Result(false, now))
	}
	return checks, nil
}

// errRunNotMade is wrapped by the errors that keep an analysis run from being made: the API
// server did not give a metric's MetricTemplate or credentials this time (a timeout, an
// overload). It is not the canary's doing, and an inconclusive run it would be: three of
// them in a row roll a good canary back. The reconcile fails instead, and the run is made
// when it is retried. A Secret that is not there, or not Tranche's to read, is the user's to
// fix: that run is inconclusive and its check says why.
var errRunNotMade = errors.New("the analysis run could not be made")

// evaluate finds one metric's queries (a MetricTemplate's, or one of builtins: the provider's
// built-in queries of the canary's series, or of the primary's, asked for only by a built-in
// metric) and its Prometheus, and has judge run and judge them.
func (r *RolloutReconciler) evaluate(ctx context.Context, ro *trancheapi.Rollout, builtins func() providers.Queries, m trancheapi.Metric,
	judge func(analysis.CompareQuerier, analysis.Source) analysis.Check) analysis.Check {
	src, err := r.querySource(ctx, ro, builtins, m)
	var prom *analysis.Prometheus
	if err == nil {
		prom, err = analysis.NewPrometheus(src.cfg)
	}
	if err != nil {
		return analysis.Check{Metric: m.Name, Verdict: trancheapi.VerdictInconclusive, Err: err}
	}
	return judge(prom, src.Source)
}

// stepWindowOf is the current step's window, as status has it.
func stepWindowOf(ro *trancheapi.Rollout) analysis.StepWindow {
	var start time.Time
	if started := ro.Status.StepStartedAt; started != nil {
		start = started.Time
	}
	w, _ := analysis.StepWindowOf(&ro.Spec, ro.Status.CurrentStep, start)
	return w
}

// querySource is where a metric's queries come from and the Prometheus to send them to.
type querySource struct {
	analysis.Source
	cfg analysis.PrometheusConfig
}

// querySource finds a metric's queries and the Prometheus to send them to: the
// MetricTemplate's, or the provider's built-in query on the default Prometheus.
func (r *RolloutReconciler) querySource(ctx context.Context, ro *trancheapi.Rollout, builtins func() providers.Queries, m trancheapi.Metric) (querySource, error) {
	src := querySource{cfg: analysis.PrometheusConfig{Address: r.PrometheusAddress}}
	if m.TemplateRef == nil {
		var err error
		src.Query, err = builtins().Query(m.Builtin)
		return src, err
	}
	tmpl := &trancheapi.MetricTemplate{}
	if err := r.Get(ctx, namespaced(*m.TemplateRef, ro.Namespace), tmpl); err != nil {
		return src, fmt.Errorf("%w: reading MetricTemplate %s: %w", errRunNotMade, m.TemplateRef.Name, err)
	}
	src.cfg = analysis.TemplateConfig(tmpl.Spec.Prometheus, r.PrometheusAddress)
	if p := tmpl.Spec.Prometheus; p != nil && p.SecretRef != nil {
		secret := &corev1.Secret{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: tmpl.Namespace, Name: p.SecretRef.Name}, secret); err != nil {
			err = fmt.Errorf("reading the credentials of MetricTemplate %s: %w", tmpl.Name, err)
			if !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
				err = fmt.Errorf("%w: %w", errRunNotMade, err)
			}
			return querySource{}, err
		}
		src.cfg = src.cfg.WithCredentials(secret.Data)
	}
	src.Source = analysis.Source{Query: tmpl.Spec.Query, Total: tmpl.Spec.TotalQuery, Template: tmpl.Name}
	return src, nil
}

// askGate calls every webhook of a gate type about the revision under test: the gate is
// open when all of them say yes.
func (r *RolloutReconciler) askGate(ctx context.Context, ro *trancheapi.Rollout, gate trancheapi.WebhookType, revision string) planner.GateAnswer {
	for _, hook := range ro.Spec.WebhooksOf(gate) {
		if err := r.callWebhook(ctx, hook, payloadFor(ro, hook, revision, "")); err != nil {
			return planner.GateAnswer{Message: fmt.Sprintf("webhook %s: %v", hook.Name, err)}
		}
	}
	return planner.GateAnswer{Open: true}
}

// notifyWebhooks queues calls to the webhooks of a notification type (PostRollout, Rollback,
// Event): their answer changes nothing, so a slow endpoint must not hold the reconcile. The
// queue delivers each webhook's calls in order, retries failures and is bounded.
func (r *RolloutReconciler) notifyWebhooks(ro *trancheapi.Rollout, kind trancheapi.WebhookType, message string) {
	if r.webhooks == nil {
		return // not set up with a manager: nothing delivers
	}
	for _, hook := range ro.Spec.WebhooksOf(kind) {
		endpoint := notify.Endpoint{Namespace: ro.Namespace, Rollout: ro.Name, Webhook: hook.Name, URL: hook.URL, Timeout: timeoutOf(hook)}
		r.webhooks.Post(endpoint, payloadFor(ro, hook, ro.Status.CanaryRevision, message).Body())
	}
}

func (r *RolloutReconciler) callWebhook(ctx context.Context, hook trancheapi.Webhook, p analysis.Payload) error {
	return analysis.CallWebhook(ctx, r.HTTPClient, hook.URL, timeoutOf(hook), p)
}

// payloadFor is what a webhook is told about the Rollout and the revision under test.
func payloadFor(ro *trancheapi.Rollout, hook trancheapi.Webhook, revision, message string) analysis.Payload {
	return analysis.Payload{
		Name: ro.Name, Namespace: ro.Namespace, Phase: string(ro.Status.Phase),
		Revision: revision, Type: string(hook.Type), Message: message, Metadata: hook.Metadata,
	}
}

func timeoutOf(hook trancheapi.Webhook) time.Duration {
	if hook.Timeout != nil {
		return hook.Timeout.Duration
	}
	return 0
}
