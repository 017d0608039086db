package v1alpha1_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

func TestMain(m *testing.M) { os.Exit(harness.Main(m, &cp, harness.Options{})) }

// strict is how kubectl apply sends objects: unknown fields are errors, not silently dropped.
var strict = client.FieldValidation("Strict")

func TestSamplesAreAccepted(t *testing.T) {
	ns := cp.Namespace(t)
	root, err := harness.ModuleRoot()
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(root, "config", "samples", "tranche_*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)

	kinds := map[string]int{}
	for _, file := range files {
		objs, err := harness.ReadManifestFile(file)
		require.NoError(t, err)
		for _, obj := range objs {
			obj.SetNamespace(ns)
			err := cp.Client.Create(context.Background(), obj, strict)
			assert.NoError(t, err, "%s: %s %s", filepath.Base(file), obj.GetKind(), obj.GetName())
			kinds[obj.GetKind()]++
		}
	}
	assert.GreaterOrEqual(t, kinds["Rollout"], 7, "a sample Rollout for every provider")
	assert.GreaterOrEqual(t, kinds["MetricTemplate"], 1)
	assert.GreaterOrEqual(t, kinds["NotificationProvider"], 1)
}

// A valid object of each kind; the invalid cases below are merge patches on top of these.
const (
	validRollout = `
apiVersion: tranche.dev/v1alpha1
kind: Rollout
metadata: {name: app}
spec:
  targetRef: {kind: Deployment, name: app}
  service: {port: 80}
  provider: {gatewayAPI: {parentRefs: [{name: gw}]}}
  steps: [{weight: 5, hold: 1m}, {weight: 100}]
  analysis:
    interval: 30s
    metrics: [{name: success, builtin: request-success-rate, min: 99}]
    webhooks: [{name: hook, url: "http://hook.test/"}]
  notify: [{providerRef: {name: slack}}]
`
	validTemplate = `
apiVersion: tranche.dev/v1alpha1
kind: MetricTemplate
metadata: {name: errors}
spec:
  prometheus: {address: "http://prometheus.test:9090"}
  query: sum(rate(errors_total[1m]))
`
	validProvider = `
apiVersion: tranche.dev/v1alpha1
kind: NotificationProvider
metadata: {name: slack}
spec: {type: Slack, secretRef: {name: slack}, channel: "#releases"}
`
)

func TestValidObjectsAreAccepted(t *testing.T) {
	ns := cp.Namespace(t)
	for _, doc := range []string{validRollout, validTemplate, validProvider} {
		obj := patched(t, doc, "{}")
		obj.SetNamespace(ns)
		require.NoError(t, cp.Client.Create(context.Background(), obj, strict))
	}
}

func TestInvalidObjectsAreRejected(t *testing.T) {
	ns := cp.Namespace(t)
	cases := []struct {
		name  string
		base  string
		patch string
		// want are substrings of the API server's message: the field, and what is wrong.
		want []string
	}{
		// Steps.
		{"weight above 100", validRollout, `{spec: {steps: [{weight: 101}]}}`,
			[]string{"spec.steps[0].weight", "less than or equal to 100"}},
		{"negative weight", validRollout, `{spec: {steps: [{weight: -1}]}}`,
			[]string{"spec.steps[0].weight", "greater than or equal to 0"}},
		{"no steps", validRollout, `{spec: {steps: []}}`,
			[]string{"spec.steps", "at least 1 items"}},
		{"empty step", validRollout, `{spec: {steps: [{hold: 1m}]}}`,
			[]string{"spec.steps[0]", "a step needs a weight, a match or a mirror"}},
		{"weight and match", validRollout, `{spec: {steps: [{weight: 5, match: [{headers: [{name: x-beta, value: "on"}]}]}]}}`,
			[]string{"spec.steps[0]", "either by weight or by match, not both"}},
		{"mirror with weight", validRollout, `{spec: {steps: [{weight: 50, mirror: 100}]}}`,
			[]string{"spec.steps[0]", "a mirror step only copies traffic"}},
		{"mirror above 100", validRollout, `{spec: {steps: [{mirror: 150}]}}`,
			[]string{"spec.steps[0].mirror", "less than or equal to 100"}},
		{"empty match", validRollout, `{spec: {steps: [{match: [{}]}]}}`,
			[]string{"spec.steps[0].match[0]", "a match needs at least one of headers, cookies or queryParams"}},
		{"unknown match type", validRollout, `{spec: {steps: [{match: [{headers: [{name: x, value: y, type: Glob}]}]}]}}`,
			[]string{"spec.steps[0].match[0].headers[0].type", "Unsupported value", "Glob"}},
		{"hold is not a duration", validRollout, `{spec: {steps: [{weight: 5, hold: soon}]}}`,
			[]string{"spec.steps[0].hold", "should match"}},
		{"hold of zero", validRollout, `{spec: {steps: [{weight: 5, hold: 0s}]}}`,
			[]string{"spec.steps[0].hold", "hold must be a positive duration"}},
		{"unknown approval", validRollout, `{spec: {steps: [{weight: 5, approval: Maybe}]}}`,
			[]string{"spec.steps[0].approval", "Unsupported value"}},

		// Provider, and what each provider can do.
		{"two providers", validRollout, `{spec: {provider: {istio: {}}}}`,
			[]string{"spec.provider", "set exactly one provider"}},
		{"no provider", validRollout, `{spec: {provider: {gatewayAPI: null}}}`,
			[]string{"spec.provider", "set exactly one provider"}},
		{"gatewayAPI without parentRefs", validRollout, `{spec: {provider: {gatewayAPI: {parentRefs: null}}}}`,
			[]string{"spec.provider.gatewayAPI.parentRefs", "Required value"}},
		{"Service parent in the Gateway group", validRollout, `{spec: {provider: {gatewayAPI: {parentRefs: [{kind: Service, group: gateway.networking.k8s.io, name: web}]}}}}`,
			[]string{"spec.provider.gatewayAPI.parentRefs[0]", `group is gateway.networking.k8s.io for a Gateway and "" for a Service`}},
		{"istio option in the gatewayAPI block", validRollout, `{spec: {provider: {gatewayAPI: {trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}}}}`,
			[]string{"spec.provider.gatewayAPI.trafficPolicy", "unknown field"}},
		{"unknown istio TLS mode", validRollout, `{spec: {provider: {gatewayAPI: null, istio: {trafficPolicy: {tls: {mode: PLAINTEXT}}}}}}`,
			[]string{"spec.provider.istio.trafficPolicy.tls.mode", "Unsupported value"}},
		{"blue/green with a partial weight", validRollout, `{spec: {provider: {gatewayAPI: null, kubernetes: {}}, steps: [{weight: 50}, {weight: 100}]}}`,
			[]string{"spec.steps", "the kubernetes provider switches all traffic at once"}},
		{"builtin metric on kubernetes", validRollout, `{spec: {provider: {gatewayAPI: null, kubernetes: {}}, steps: [{weight: 0}, {weight: 100}]}}`,
			[]string{"spec.analysis.metrics", "the kubernetes provider has no data plane to take built-in metrics from"}},
		{"A/B on smi", validRollout, `{spec: {provider: {gatewayAPI: null, smi: {}}, steps: [{match: [{headers: [{name: x-beta, value: "on"}]}]}]}}`,
			[]string{"spec.steps", "steps with match (A/B testing) need the gatewayAPI, istio, linkerd or nginx provider"}},
		{"mirror on linkerd", validRollout, `{spec: {provider: {gatewayAPI: null, linkerd: {}}, steps: [{mirror: 100}]}}`,
			[]string{"spec.steps", "steps with mirror need the gatewayAPI, istio or traefik provider"}},
		{"query match on nginx", validRollout, `{spec: {provider: {gatewayAPI: null, nginx: {ingressRef: {name: web}}}, steps: [{match: [{queryParams: [{name: a, value: b}]}]}]}}`,
			[]string{"spec.steps", "the nginx provider cannot match on queryParams"}},
		{"A/B on linkerd SMI", validRollout, `{spec: {provider: {gatewayAPI: null, linkerd: {mode: SMI}}, steps: [{match: [{headers: [{name: x-beta, value: "on"}]}]}]}}`,
			[]string{"spec.steps", "linkerd in SMI mode cannot match requests"}},

		// Target and service.
		{"target of an unsupported kind", validRollout, `{spec: {targetRef: {kind: StatefulSet}}}`,
			[]string{"spec.targetRef.kind", "Unsupported value"}},
		{"target name too long", validRollout, `{spec: {targetRef: {name: ` + strings.Repeat("a", 56) + `}}}`,
			[]string{"spec.targetRef.name", "at most 55 characters"}},
		{"target name not a DNS label", validRollout, `{spec: {targetRef: {name: My.App}}}`,
			[]string{"spec.targetRef.name", "must be a DNS label"}},
		{"service port 0", validRollout, `{spec: {service: {port: 0}}}`,
			[]string{"spec.service.port", "greater than or equal to 1"}},
		{"progressDeadline without unit", validRollout, `{spec: {progressDeadline: "600"}}`,
			[]string{"spec.progressDeadline", "should match"}},

		// Analysis.
		{"interval of zero", validRollout, `{spec: {analysis: {interval: 0s}}}`,
			[]string{"spec.analysis.interval", "interval must be at least 1s"}},
		{"interval below a second", validRollout, `{spec: {analysis: {interval: 500ms}}}`,
			[]string{"spec.analysis.interval", "interval must be at least 1s"}},
		{"failureLimit of zero", validRollout, `{spec: {analysis: {failureLimit: 0}}}`,
			[]string{"spec.analysis.failureLimit", "greater than or equal to 1"}},
		{"metric without query", validRollout, `{spec: {analysis: {metrics: [{name: m, max: 1}]}}}`,
			[]string{"spec.analysis.metrics[0]", "exactly one of templateRef or builtin"}},
		{"metric with template and builtin", validRollout, `{spec: {analysis: {metrics: [{name: m, templateRef: {name: t}, builtin: request-duration, max: 1}]}}}`,
			[]string{"spec.analysis.metrics[0]", "exactly one of templateRef or builtin"}},
		{"unknown builtin", validRollout, `{spec: {analysis: {metrics: [{name: m, builtin: cpu, max: 1}]}}}`,
			[]string{"spec.analysis.metrics[0].builtin", "Unsupported value"}},
		{"min above max", validRollout, `{spec: {analysis: {metrics: [{name: m, builtin: request-duration, min: 10, max: 1}]}}}`,
			[]string{"spec.analysis.metrics[0]", "min must not be greater than max"}},
		{"threshold without bounds", validRollout, `{spec: {analysis: {metrics: [{name: m, builtin: request-duration}]}}}`,
			[]string{"spec.analysis.metrics[0]", "a Threshold metric needs min, max or both"}},
		{"duplicate metric names", validRollout, `{spec: {analysis: {metrics: [{name: m, builtin: request-duration, max: 1}, {name: m, builtin: request-success-rate, min: 1}]}}}`,
			[]string{"spec.analysis.metrics[1]", "Duplicate value"}},
		{"unknown webhook type", validRollout, `{spec: {analysis: {webhooks: [{name: h, type: Sometimes, url: "http://h.test/"}]}}}`,
			[]string{"spec.analysis.webhooks[0].type", "Unsupported value", "ConfirmRollout"}},
		{"webhook url not http", validRollout, `{spec: {analysis: {webhooks: [{name: h, url: "ftp://h.test/"}]}}}`,
			[]string{"spec.analysis.webhooks[0].url", "url must be an absolute http or https URL"}},
		{"webhook url relative", validRollout, `{spec: {analysis: {webhooks: [{name: h, url: "/hook"}]}}}`,
			[]string{"spec.analysis.webhooks[0].url", "url must be an absolute http or https URL"}},
		{"webhook timeout too long", validRollout, `{spec: {analysis: {webhooks: [{name: h, url: "http://h.test/", timeout: 10m}]}}}`,
			[]string{"spec.analysis.webhooks[0].timeout", "timeout must be between 0s (excluded) and 5m"}},
		{"unknown severity", validRollout, `{spec: {notify: [{providerRef: {name: slack}, severity: Warning}]}}`,
			[]string{"spec.notify[0].severity", "Unsupported value"}},

		// MetricTemplate.
		{"template without query", validTemplate, `{spec: {query: ""}}`,
			[]string{"spec.query", "at least 1 chars"}},
		{"prometheus address without scheme", validTemplate, `{spec: {prometheus: {address: "prometheus:9090"}}}`,
			[]string{"spec.prometheus.address", "prometheus.address must be an absolute http or https URL"}},
		{"prometheus timeout too long", validTemplate, `{spec: {prometheus: {timeout: 2m}}}`,
			[]string{"spec.prometheus.timeout", "timeout must be between 0s (excluded) and 1m"}},

		// NotificationProvider.
		{"unknown notification type", validProvider, `{spec: {type: Discord}}`,
			[]string{"spec.type", "Unsupported value", "Slack"}},
		{"Slack options on Teams", validProvider, `{spec: {type: MSTeams}}`,
			[]string{"spec", "channel, username and iconEmoji are Slack options"}},
		{"provider without secret", validProvider, `{spec: {secretRef: null}}`,
			[]string{"spec.secretRef", "Required value"}},
		{"URL in clear", validProvider, `{spec: {address: "https://hooks.slack.test/x"}}`,
			[]string{"spec.address", "unknown field"}},
		{"bad Slack channel", validProvider, `{spec: {channel: "Releases!"}}`,
			[]string{"spec.channel", "should match"}},
	}
	require.GreaterOrEqual(t, len(cases), 25)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := patched(t, tc.base, tc.patch)
			obj.SetNamespace(ns)
			err := cp.Client.Create(context.Background(), obj, strict)
			require.Error(t, err, "the API server accepted an invalid %s", obj.GetKind())
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

// patched applies a JSON merge patch, written in YAML, to a YAML object.
func patched(t *testing.T, doc, patch string) *unstructured.Unstructured {
	t.Helper()
	base, err := yaml.YAMLToJSON([]byte(doc))
	require.NoError(t, err)
	p, err := yaml.YAMLToJSON([]byte(patch))
	require.NoError(t, err)
	merged, err := jsonpatch.MergePatch(base, p)
	require.NoError(t, err)
	obj := &unstructured.Unstructured{}
	require.NoError(t, obj.UnmarshalJSON(merged))
	return obj
}
