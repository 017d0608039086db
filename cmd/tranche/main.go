// Command tranche is the Tranche manager: it runs the Rollout controller.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	// The image carries no CA bundle: Slack, Teams and HTTPS Prometheus are verified with
	// the roots this embeds, where the system has none.
	_ "golang.org/x/crypto/x509roots/fallback"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/controllers"
	"github.com/tranche-dev/tranche/notify"
	"github.com/tranche-dev/tranche/providers/registry"
)

func main() {
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := clientFeaturesFromEnv(os.Environ(), utilfeature.DefaultMutableFeatureGate); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctrl.SetLogger(zap.New(zap.Level(opts.logLevel), zap.JSONEncoder(func(c *zapcore.EncoderConfig) {
		c.EncodeTime = zapcore.RFC3339TimeEncoder
	})))
	if limit := heapLimit(opts.memoryLimit, os.Getenv("GOMEMLIMIT")); limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	if err := run(ctrl.SetupSignalHandler(), opts); err != nil {
		ctrl.Log.Error(err, "Manager stopped")
		os.Exit(1)
	}
}

// options are the manager's settings, from its flags.
type options struct {
	metricsAddr             string
	probeAddr               string
	leaderElect             bool
	leaderElectionNamespace string
	// The leader election's timing: how long a lease lasts without renewal, how long the
	// leader keeps trying to renew, and how often followers try to take it.
	leaseDuration, renewDeadline, retryPeriod time.Duration
	// The client's rate limit towards the API server.
	qps                 float32
	burst               int
	prometheusAddress   string
	namespaces          []string
	selector            labels.Selector
	logLevel            zapcore.Level
	concurrency         int
	defaultNotification *types.NamespacedName
	clusterName         string
	copySecrets         bool
	namespaced          bool
	isolation           controllers.Isolation
	// leaderElectionID names the Lease: one per shard, so that shards all work at once.
	leaderElectionID string
	pprofAddr        string
	// memoryLimit is the container's memory limit in bytes, 0 for none known.
	memoryLimit int64
}

func parseFlags(args []string) (options, error) {
	var o options
	var namespaces, selector, logLevel, defaultNotification, allowedHosts string
	fs := flag.NewFlagSet("tranche", flag.ContinueOnError)
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "Address the Prometheus metrics endpoint listens on; 0 turns it off.")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address /healthz and /readyz listen on.")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "0", "Address Go's profiles (/debug/pprof/) listen on; 0, the default, turns them off.")
	fs.BoolVar(&o.leaderElect, "leader-elect", true, "Elect a leader so that only one replica acts at a time.")
	fs.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease. Default: the manager's own namespace when it runs in a cluster.")
	fs.StringVar(&o.prometheusAddress, "prometheus-address", "http://prometheus.monitoring:9090", "Prometheus server for MetricTemplates that name none.")
	fs.StringVar(&namespaces, "namespaces", "", "Comma-separated namespaces to watch. Default: all.")
	fs.StringVar(&selector, "shard-selector", "", "Label selector: only Rollouts that match it are reconciled, so that several managers can split the Rollouts (each shard elects its leader on a Lease of its own). Default: all.")
	fs.StringVar(&selector, "selector", "", "The former name of --shard-selector.")
	fs.DurationVar(&o.leaseDuration, "leader-elect-lease-duration", 15*time.Second, "How long a leader's lease lasts without renewal: a follower takes over at most this long after the leader dies.")
	fs.DurationVar(&o.renewDeadline, "leader-elect-renew-deadline", 10*time.Second, "How long the leader keeps trying to renew its lease before it stops acting.")
	fs.DurationVar(&o.retryPeriod, "leader-elect-retry-period", 2*time.Second, "How often a follower tries to take the lease.")
	fs.StringVar(&logLevel, "log-level", "info", "Log level: debug, info or error.")
	fs.IntVar(&o.concurrency, "concurrency", 4, "How many Rollouts are reconciled at once.")
	qps := fs.Float64("kube-api-qps", 50, "Requests per second the manager may send to the API server, on average.")
	fs.IntVar(&o.burst, "kube-api-burst", 100, "Requests the manager may send to the API server at once, above --kube-api-qps.")
	fs.StringVar(&defaultNotification, "default-notification-provider", os.Getenv("TRANCHE_DEFAULT_NOTIFICATION_PROVIDER"),
		"NotificationProvider (namespace/name) that gets the news of Rollouts that name none. Default: $TRANCHE_DEFAULT_NOTIFICATION_PROVIDER, else none.")
	fs.BoolVar(&o.isolation.NoCrossNamespaceRefs, "no-cross-namespace-refs", false,
		"A Rollout may refer only to MetricTemplates and NotificationProviders in its own namespace (and so to their Secrets): no team's Rollout borrows another team's Prometheus credentials or notification URL.")
	fs.StringVar(&allowedHosts, "allowed-webhook-hosts", "",
		"Comma-separated hosts the manager may call at a user's word (Rollout webhooks, MetricTemplates' Prometheus, notification URLs); *.example.com takes its subdomains. Default: any.")
	fs.StringVar(&o.leaderElectionID, "leader-election-id", "",
		"Name of the leader election Lease. Default: tranche.dev, or with --shard-selector one of its own derived from the selector, so that every shard works at once.")
	memoryLimit := fs.String("memory-limit", os.Getenv("TRANCHE_MEMORY_LIMIT"),
		"The container's memory limit (512Mi, or bytes): the manager keeps its heap under 90% of it, collecting garbage sooner as it nears it, rather than be killed for memory. GOMEMLIMIT, when set, wins. Default: $TRANCHE_MEMORY_LIMIT (the Helm chart sets it from the limit), else none.")
	fs.BoolVar(&o.namespaced, "namespaced", false,
		"Make no cluster-scoped request, as a namespaced install's Roles allow none (needs --namespaces): the features a Gateway's class supports are then not read, and a route a Gateway cannot keep is told of by its status alone.")
	fs.BoolVar(&o.copySecrets, "copy-secrets", true,
		"Give the primary copies of the Secrets the target's pods use, as of their ConfigMaps, so that a change to one is released as a canary. false: both versions share them as they are, and the manager needs no right to write Secrets.")
	fs.StringVar(&o.clusterName, "cluster-name", "", "The cluster's name, for notification templates ({{ .Cluster }}) and webhook bodies. Default: none.")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if u, err := url.Parse(o.prometheusAddress); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, fmt.Errorf("--prometheus-address %q must be an absolute http or https URL", o.prometheusAddress)
	}
	if *memoryLimit != "" {
		q, err := resource.ParseQuantity(*memoryLimit)
		if err != nil || q.Sign() < 0 {
			return o, fmt.Errorf("--memory-limit %q must be a quantity of bytes, such as 512Mi", *memoryLimit)
		}
		o.memoryLimit = q.Value()
	}
	o.namespaces = commaList(namespaces)
	if o.namespaced && len(o.namespaces) == 0 {
		return o, errors.New("--namespaced needs --namespaces: the namespaces whose Roles let the manager work")
	}
	o.isolation.Namespaces = o.namespaces
	o.isolation.AllowedHosts = commaList(allowedHosts)
	for _, host := range o.isolation.AllowedHosts {
		if strings.ContainsAny(host, "/:@") || strings.Contains(strings.TrimPrefix(host, "*."), "*") {
			return o, fmt.Errorf("--allowed-webhook-hosts: %q is not a host: give names (api.example.com), subdomains (*.example.com) or IP addresses", host)
		}
	}
	var err error
	if o.selector, err = labels.Parse(selector); err != nil {
		return o, fmt.Errorf("--shard-selector: %w", err)
	}
	if o.leaderElectionID == "" {
		o.leaderElectionID = shardLease(o.selector)
	}
	if err := o.logLevel.Set(logLevel); err != nil || o.logLevel > zapcore.ErrorLevel {
		return o, fmt.Errorf("--log-level %q must be debug, info or error", logLevel)
	}
	if !(o.retryPeriod > 0 && o.retryPeriod < o.renewDeadline && o.renewDeadline < o.leaseDuration) {
		return o, fmt.Errorf("leader election needs 0 < --leader-elect-retry-period (%s) < --leader-elect-renew-deadline (%s) < --leader-elect-lease-duration (%s)",
			o.retryPeriod, o.renewDeadline, o.leaseDuration)
	}
	if o.qps = float32(*qps); o.qps <= 0 || o.burst < 1 {
		return o, fmt.Errorf("--kube-api-qps (%g) and --kube-api-burst (%d) must be positive", *qps, o.burst)
	}
	if o.concurrency < 1 {
		return o, fmt.Errorf("--concurrency must be at least 1, not %d", o.concurrency)
	}
	if defaultNotification != "" {
		ns, name, ok := strings.Cut(defaultNotification, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return o, fmt.Errorf("--default-notification-provider %q must be namespace/name", defaultNotification)
		}
		o.defaultNotification = &types.NamespacedName{Namespace: ns, Name: name}
	}
	return o, nil
}

// heapLimit is the soft limit the Go runtime keeps its memory under: 90% of the container's
// limit, leaving the rest for what the runtime does not count (the binary, thread stacks
// outside the heap); 0, keeping the runtime's own setting, when GOMEMLIMIT is set or no
// limit is known. Without it the heap grows to twice what is live before a collection, and
// the kernel kills a manager whose live heap is half its limit.
func heapLimit(containerLimit int64, gomemlimit string) int64 {
	if gomemlimit != "" || containerLimit <= 0 {
		return 0
	}
	return containerLimit / 10 * 9
}

// commaList is the non-empty items of a comma-separated list.
func commaList(s string) []string {
	var items []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// shardLease is the name of the leader election Lease of the managers of one shard:
// tranche.dev for all Rollouts, else tranche.dev-<a hash of the selector>. The selector's
// string is canonical (its requirements sorted), so every replica of a shard finds the same.
func shardLease(selector labels.Selector) string {
	if selector.Empty() {
		return "tranche.dev"
	}
	h := fnv.New32a()
	h.Write([]byte(selector.String()))
	return fmt.Sprintf("tranche.dev-shard-%08x", h.Sum32())
}

// run starts the manager and blocks until ctx is done or the manager fails.
func run(ctx context.Context, o options) error {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(trancheapi.AddToScheme(scheme))
	utilruntime.Must(gatewayv1.Install(scheme))

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("finding the cluster: %w", err)
	}
	cfg.QPS, cfg.Burst = o.qps, o.burst
	// The lease in the user agent tells the API server's audit log which shard wrote what.
	cfg.UserAgent = fmt.Sprintf("%s (lease %s)", rest.DefaultKubernetesUserAgent(), o.leaderElectionID)
	// The API client's latency, for the dashboard's controller health (config/grafana).
	metrics.RegisterRESTClientMetrics(metrics.MetricRequestLatency)
	cacheOpts := cache.Options{
		ByObject: controllers.CacheObjects(o.selector),
		// Nothing here reads managedFields, and they are a good part of every object's size.
		DefaultTransform: cache.TransformStripManagedFields(),
	}
	if len(o.namespaces) > 0 {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range o.namespaces {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	mgrOpts := ctrl.Options{
		Scheme: scheme,
		Cache:  cacheOpts,
		// Secrets are read one at a time where a MetricTemplate names one: caching them
		// would need the right to list every Secret in the cluster. Gateways and their
		// classes are read only for a split that needs a feature beyond Gateway API's core
		// (see providers/gatewayapi), and often live outside --namespaces.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{
			&corev1.Secret{}, &gatewayv1.Gateway{}, &gatewayv1.GatewayClass{},
		}}},
		Metrics:                       metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:        o.probeAddr,
		PprofBindAddress:              o.pprofAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              o.leaderElectionID,
		LeaderElectionNamespace:       o.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &o.leaseDuration,
		RenewDeadline:                 &o.renewDeadline,
		RetryPeriod:                   &o.retryPeriod,
	}
	mgr, err := startupRetry(ctx, func() (ctrl.Manager, error) { return ctrl.NewManager(cfg, mgrOpts) })
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}

	c := mgr.GetClient()
	if o.namespaced {
		c = namespacedOnly{c}
	}
	reconciler := &controllers.RolloutReconciler{
		Client:            c,
		Providers:         registry.Default(),
		Recorder:          mgr.GetEventRecorder("tranche"),
		Now:               time.Now,
		PrometheusAddress: o.prometheusAddress,
		Concurrency:       o.concurrency,
		Notifier: &notify.Dispatcher{Log: func(provider types.NamespacedName, err error) {
			ctrl.Log.Info("Notification not delivered as asked", "provider", provider.String(), "error", err.Error())
		}},
		DefaultNotificationProvider: o.defaultNotification,
		ClusterName:                 o.clusterName,
		NoSecretCopies:              !o.copySecrets,
		Isolation:                   o.isolation,
	}
	if err := reconciler.SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the Rollout controller: %w", err)
	}
	providers := &controllers.NotificationProviderReconciler{Client: c, Recorder: mgr.GetEventRecorder("tranche")}
	if err := providers.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the NotificationProvider controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	// Ready once the caches have synced, so a new replica does not report ready too early.
	if err := mgr.AddReadyzCheck("readyz", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return errors.New("caches not synced")
		}
		return nil
	}); err != nil {
		return err
	}

	ctrl.Log.Info("Starting manager", "namespaces", o.namespaces, "selector", o.selector.String(), "leaderElection", o.leaderElect,
		"lease", o.leaderElectionID, "noCrossNamespaceRefs", o.isolation.NoCrossNamespaceRefs, "allowedWebhookHosts", o.isolation.AllowedHosts)
	return mgr.Start(ctx)
}
