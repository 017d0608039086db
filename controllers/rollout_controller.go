package controllers

import (
	"context"
	"errors"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/notify"
	"github.com/tranche-dev/tranche/providers"
)

const (
	// finalizer holds a Rollout until its traffic is handed back to the primary.
	finalizer = "tranche.dev/finalizer"
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
}

// +kubebuilder:rbac:groups=tranche.dev,resources=rollouts,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=tranche.dev,resources=rollouts/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=tranche.dev,resources=rollouts/finalizers,verbs=update
// +kubebuilder:rbac:groups=tranche.dev,resources=metrictemplates;notificationproviders,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves one Rollout one step towards its spec and records what it saw in status.
func (r *RolloutReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	ro := &trancheapi.Rollout{}
	if err := r.Get(ctx, req.NamespacedName, ro); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ctx = ctrl.LoggerInto(ctx, log.FromContext(ctx, "rollout", klog.KObj(ro)))

	// Status is written once, on every way out of this function.
	before := ro.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, before, ro); err != nil && !apierrors.IsNotFound(err) {
			retErr = errors.Join(retErr, err)
		}
	}()

	if !ro.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, ro)
	}
	if !controllerutil.ContainsFinalizer(ro, finalizer) {
		// The update's own event is filtered out (no spec change): carry on in this reconcile.
		controllerutil.AddFinalizer(ro, finalizer)
		if err := r.Update(ctx, ro); err != nil {
			return ctrl.Result{}, err
		}
		before = ro.DeepCopy()
	}

	refs, err := readReferences(ctx, r.Client, ro)
	if err != nil {
		return r.failed(ro, err)
	}
	if p := refs.problem(); p != nil {
		r.setStalled(ro, p)
		return ctrl.Result{}, r.protectStable(ctx, ro)
	}
	router, err := r.Providers.For(r.Client, ro)
	if err == nil {
		err = r.ensureInfrastructure(ctx, ro, refs.target, router)
	}
	if p := asProblem(err); p != nil {
		r.setStalled(ro, p)
		return ctrl.Result{}, nil
	} else if errors.Is(err, errServicesCreated) {
		return ctrl.Result{}, nil // the Services' watch events bring the next reconcile
	} else if errors.Is(err, errRoutingCreated) {
		return ctrl.Result{RequeueAfter: staleRetryDelay}, nil
	} else if err != nil {
		return r.failed(ro, err)
	}

	w, err := r.observe(ctx, ro, refs.target, router)
	if err != nil {
		return r.failed(ro, err)
	}
	p := decide(w)
	for asked := 0; p.need.any() && asked < 3; asked++ {
		w = r.answer(ctx, ro, router, w, p.need)
		p = decide(w)
	}
	if p.stalled != nil {
		r.setStalled(ro, p.stalled)
		return ctrl.Result{}, nil
	}
	// The decision is committed before it is acted on, under an optimistic lock: a decision
	// made from a stale Rollout (the cache lags behind our own writes) fails to commit and is
	// made again, rather than acting on an outdated status.
	setStatus(ro, p)
	if err := r.patchStatus(ctx, before, ro); apierrors.IsConflict(err) {
		before.Status = ro.Status // nothing left for the deferred write
		return ctrl.Result{RequeueAfter: staleRetryDelay}, nil
	} else if err != nil {
		return ctrl.Result{}, err
	}
	before = ro.DeepCopy()
	// Announced once committed: a failed action is retried, the news is not repeated.
	r.announce(ctx, ro, p)
	if err := r.act(ctx, ro, refs.target, router, p.action); err != nil {
		if p := asProblem(err); p != nil {
			// A step the API accepted and the provider cannot route (some matches): only
			// the user can change it, and meanwhile the primary serves everything.
			r.setStalled(ro, p)
			return ctrl.Result{}, r.protectStable(ctx, ro)
		}
		return r.failed(ro, err)
	}
	return ctrl.Result{RequeueAfter: requeueAfter(p)}, nil
}

// requeueAfter is when to look again: when decide asked, else after resyncInterval, so that
// a hand edit of a routing object (which is not watched) is repaired.
func requeueAfter(p plan) time.Duration {
	if p.requeue > 0 {
		return p.requeue
	}
	return resyncInterval
}

// protectStable sends all traffic to the primary when a rollout under way cannot go on (its
// target was deleted, say): the canary's share would otherwise go nowhere.
func (r *RolloutReconciler) protectStable(ctx context.Context, ro *trancheapi.Rollout) error {
	if !ro.Status.Phase.UnderWay() && ro.Status.Phase != trancheapi.PhasePromoting {
		return nil
	}
	router, err := r.Providers.For(r.Client, ro)
	if err != nil {
		return nil // nothing was ever routed through an unknown provider
	}
	if err := router.SetRoutes(ctx, ro, providers.Routes{}); err != nil {
		return err
	}
	ro.Status.CanaryWeight = 0
	return nil
}

// failed records a transient failure; the reconcile is retried with backoff.
func (r *RolloutReconciler) failed(ro *trancheapi.Rollout, err error) (ctrl.Result, error) {
	setReconcilingError(ro, err)
	return ctrl.Result{}, err
}

// patchStatus writes the status if it changed since before, failing with a conflict when
// before is not the Rollout's latest version.
func (r *RolloutReconciler) patchStatus(ctx context.Context, before, ro *trancheapi.Rollout) error {
	if equalStatus(before.Status, ro.Status) {
		return nil
	}
	return r.Status().Patch(ctx, ro, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

// finalize hands all traffic back to the primary and gives the target the primary's
// replicas back, then lets the Rollout go. The primary, the Services and the routing objects
// are owned by the Rollout and deleted with it.
func (r *RolloutReconciler) finalize(ctx context.Context, ro *trancheapi.Rollout) error {
	if !controllerutil.ContainsFinalizer(ro, finalizer) {
		return nil
	}
	if router, err := r.Providers.For(r.Client, ro); err == nil {
		if err := router.Finalize(ctx, ro); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	if err := r.restoreTarget(ctx, ro); err != nil {
		return err
	}
	forgetMetrics(ro.Namespace, ro.Name)
	controllerutil.RemoveFinalizer(ro, finalizer)
	return r.Update(ctx, ro)
}
