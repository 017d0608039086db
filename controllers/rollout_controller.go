package controllers

import (
	"context"
	"errors"
	"net/http"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers/planner"
	"github.com/tranche-dev/tranche/notify"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

const (
	// staleRetryDelay is how soon a decision made from a stale Rollout is made again: about
	// the time the cache takes to see our own last write.
	staleRetryDelay = 100 * time.Millisecond
	// resyncInterval is how often a Rollout with nothing due is looked at again.
	resyncInterval = 5 * time.Minute
)

// RolloutReconciler reconciles Rollouts.
type RolloutReconciler struct {
	client.Client
	Recorder events.EventRecorder
	// Providers maps provider names to Routers.
	Providers providers.Registry
	// Now is the clock; tests inject their own.
	Now func() time.Time
	// PrometheusAddress is the server asked by MetricTemplates and built-in metrics that
	// name none.
	PrometheusAddress string
	// HTTPClient calls webhooks and Prometheus; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Concurrency is how many Rollouts are reconciled at once (default 1): a slow webhook
	// or Prometheus holds up only its own Rollout's worker.
	Concurrency int
	// Notifier delivers news to NotificationProviders; nil sends none. SetupWithManager
	// runs it with the manager and gives it the way to read providers and their Secrets.
	Notifier *notify.Dispatcher
	// DefaultNotificationProvider gets the news of Rollouts that subscribe to none.
	DefaultNotificationProvider *types.NamespacedName
	// ClusterName is the cluster's name in the news, for notification templates.
	ClusterName string
	// Isolation is what a Rollout may refer to and have the controller call.
	Isolation Isolation
	// NoSecretCopies leaves the Secrets a target's pods use out of its revision: both
	// versions share them as they are, and the manager needs no right to write Secrets
	// (--copy-secrets=false). ConfigMaps are still copied.
	NoSecretCopies bool

	// webhooks delivers the calls of notification webhooks; SetupWithManager makes it.
	webhooks *notify.Dispatcher
	// uncached reads the ConfigMaps and Secrets a target uses from the API server: the
	// manager's cache holds only their metadata (SetupWithManager sets it; nil reads through
	// Client).
	uncached client.Reader
}

// The manager asks for the verbs its requests use and no more (test/chart finds each in the
// API server's audit log): it reads through its caches (list and watch; get only what is not
// cached, such as Secrets), and writes by patch (no update).
// +kubebuilder:rbac:groups=tranche.dev,resources=rollouts,verbs=list;watch;patch
// +kubebuilder:rbac:groups=tranche.dev,resources=rollouts/status,verbs=patch
// +kubebuilder:rbac:groups=tranche.dev,resources=rollouts/finalizers,verbs=update
// +kubebuilder:rbac:groups=tranche.dev,resources=metrictemplates;notificationproviders,verbs=list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments;daemonsets,verbs=list;watch;create;patch
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;patch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves one Rollout one step towards its spec and records what it saw in status.
func (r *RolloutReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	ro := &trancheapi.Rollout{}
	if err := r.Get(ctx, req.NamespacedName, ro); errors.Is(err, errBehindOwnWrite) {
		return ctrl.Result{RequeueAfter: staleRetryDelay}, nil
	} else if err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ctx = ctrl.LoggerInto(ctx, log.FromContext(ctx, "rollout", klog.KObj(ro)))
	s := &scope{rollout: ro, written: ro.DeepCopy()}
	// Status is written once, on every way out of this function.
	defer func() {
		if err := r.patchStatus(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			retErr = errors.Join(retErr, err)
		}
	}()

	if !ro.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, s)
	}
	if err := r.addFinalizer(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	// A target or a reference that is missing stops a rollout under way: the canary's share
	// would otherwise go nowhere.
	if err := r.resolve(ctx, s); err != nil {
		return r.stop(ctx, s, err, sendToPrimary)
	}
	if ready, after, err := r.ensureInfrastructure(ctx, s); err != nil {
		return r.stop(ctx, s, err, keepRoutes)
	} else if !ready {
		return ctrl.Result{RequeueAfter: after}, nil
	}
	p, err := r.decide(ctx, s)
	if err != nil {
		return r.stop(ctx, s, err, keepRoutes)
	}
	if p.Stalled != nil {
		return r.stop(ctx, s, p.Stalled, keepRoutes)
	}
	if committed, err := r.commit(ctx, s, p); err != nil {
		return ctrl.Result{}, err
	} else if !committed {
		return ctrl.Result{RequeueAfter: staleRetryDelay}, nil
	}
	// Announced once committed and before acting: a failed action is retried, the news is
	// not repeated.
	r.announce(ctx, ro, p)
	if err := r.act(ctx, s, p.Action); err != nil {
		// A step the API accepted and the provider cannot route (some matches) stalls the
		// rollout, and meanwhile the primary serves everything.
		return r.stop(ctx, s, err, sendToPrimary)
	}
	after := requeueAfter(p)
	if tracksSecrets(s.configs) {
		after = min(after, secretPollInterval)
	}
	return ctrl.Result{RequeueAfter: after}, nil
}

// scope is what one reconcile works on, gathered as it goes.
type scope struct {
	rollout *trancheapi.Rollout
	// written is the Rollout as this reconcile last read or wrote it: the status patch sends
	// what differs from it, under its resourceVersion.
	written *trancheapi.Rollout
	target  client.Object // the user's Deployment or DaemonSet, once resolved
	// autoscaler is the HorizontalPodAutoscaler that scales the target, if any, once resolved
	autoscaler *autoscalingv2.HorizontalPodAutoscaler
	router     providers.Router // the Rollout's provider, once resolved
	// configs is the target's tracked configuration (see configs.go), and configObjects the
	// ConfigMaps and Secrets it was read from.
	configs       map[configRef]configData
	configObjects []client.Object
}

// resolve reads what the Rollout refers to and finds its Router. A missing reference is a
// problem only the user can fix.
func (r *RolloutReconciler) resolve(ctx context.Context, s *scope) error {
	if p := r.Isolation.refused(s.rollout); p != nil {
		return p
	}
	refs, err := readReferences(ctx, r.Client, s.rollout)
	if err != nil {
		return err
	}
	if p := refs.problem(); p != nil {
		return p
	}
	if p, err := r.Isolation.refusedPrometheus(ctx, r.Client, s.rollout); err != nil {
		return err
	} else if p != nil {
		return p
	}
	s.target = refs.target
	if s.autoscaler, err = targetAutoscaler(ctx, r.Client, s.rollout); err != nil {
		return err
	}
	if s.configs, s.configObjects, err = r.trackedConfigs(ctx, s.target); err != nil {
		return err
	}
	s.router, err = r.Providers.For(r.Client, s.rollout)
	return err
}

// maxQuestions bounds the questions one decision asks the reconciler. A decision needs at
// most an analysis run and two gates (the PreRollout webhooks, then ConfirmTrafficIncrease,
// before the first traffic); the bound keeps a decide that asked again for what it was told
// from calling webhooks without end.
const maxQuestions = 3

// decide observes the world, and decides on it; when decide asks for what it cannot observe
// cheaply (an analysis run, a gate's answer), the answer is fetched and it decides again.
func (r *RolloutReconciler) decide(ctx context.Context, s *scope) (planner.Plan, error) {
	w, err := r.observe(ctx, s)
	if err != nil {
		return planner.Plan{}, err
	}
	p := planner.Decide(w)
	for asked := 0; p.Need.Any() && asked < maxQuestions; asked++ {
		if w, err = r.answer(ctx, s, w, p.Need); err != nil {
			return planner.Plan{}, err
		}
		p = planner.Decide(w)
	}
	return p, nil
}

// commit writes the decided status before anything is acted on, under an optimistic lock: a
// decision made from a stale Rollout (the cache lags behind our own writes) fails to commit,
// and committed is false: it is made again rather than acted on.
func (r *RolloutReconciler) commit(ctx context.Context, s *scope, p planner.Plan) (committed bool, err error) {
	setStatus(s.rollout, p)
	err = r.patchStatus(ctx, s)
	if apierrors.IsConflict(err) {
		s.written.Status = s.rollout.Status // nothing left for the deferred write
		return false, nil
	}
	return err == nil, err
}

// requeueAfter is when to look again: when decide asked, else after resyncInterval, so that
// a hand edit of a routing object (which is not watched) is repaired.
func requeueAfter(p planner.Plan) time.Duration {
	if p.Requeue > 0 {
		return p.Requeue
	}
	return resyncInterval
}

// What a reconcile stopped by a problem does with the traffic of a rollout under way.
const (
	keepRoutes    = false
	sendToPrimary = true
)

// stop ends a reconcile that cannot go on. A cache behind Tranche's own write is read again
// a moment later. An error only the user can fix stalls the
// Rollout with its message (it is looked at again when the Rollout or what it refers to
// changes), and with toPrimary a rollout under way sends all traffic to the primary
// meanwhile. Any other error is transient: it is retried with backoff.
func (r *RolloutReconciler) stop(ctx context.Context, s *scope, err error, toPrimary bool) (ctrl.Result, error) {
	if errors.Is(err, errBehindOwnWrite) {
		// Not a problem: the cache is a moment behind; nothing was decided from it.
		return ctrl.Result{RequeueAfter: staleRetryDelay}, nil
	}
	p := asProblem(err)
	if p == nil {
		setReconcilingError(s.rollout, err)
		return ctrl.Result{}, err
	}
	r.setStalled(s.rollout, p)
	if !toPrimary {
		return ctrl.Result{RequeueAfter: p.Recheck}, nil
	}
	return ctrl.Result{RequeueAfter: p.Recheck}, r.protectStable(ctx, s.rollout)
}

// protectStable sends all traffic to the primary when a rollout under way cannot go on.
func (r *RolloutReconciler) protectStable(ctx context.Context, ro *trancheapi.Rollout) error {
	if !ro.Status.Phase.UnderWay() && ro.Status.Phase != trancheapi.PhasePromoting {
		return nil
	}
	router, err := r.Providers.For(r.Client, ro)
	if err != nil {
		return nil // nothing was ever routed through an unknown provider
	}
	if err := router.SetRoutes(ctx, ro, traffic.Routes{}); err != nil {
		return err
	}
	ro.Status.CanaryWeight = 0
	return nil
}

// patchStatus writes the status if it changed since s.written, failing with a conflict when
// s.written is not the Rollout's latest version.
func (r *RolloutReconciler) patchStatus(ctx context.Context, s *scope) error {
	if equalStatus(s.written.Status, s.rollout.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, s.rollout, client.MergeFromWithOptions(s.written, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	s.written = s.rollout.DeepCopy()
	return nil
}
