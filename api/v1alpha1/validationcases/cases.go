// Package validationcases holds the invalid Rollouts, MetricTemplates and
// NotificationProviders the API must refuse, each with what the refusal must say: the API
// server's validation tests and the offline linter's run the same cases.
package validationcases

import (
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// A valid object of each kind; the invalid cases below are merge patches on top of these.
const (
	ValidRollout = `
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
	ValidTemplate = `
apiVersion: tranche.dev/v1alpha1
kind: MetricTemplate
metadata: {name: errors}
spec:
  prometheus: {address: "http://prometheus.test:9090"}
  query: sum(rate(errors_total[1m]))
`
	ValidProvider = `
apiVersion: tranche.dev/v1alpha1
kind: NotificationProvider
metadata: {name: slack}
spec: {type: Slack, secretRef: {name: slack}, channel: "#releases"}
`
)

// Case is an invalid object: Patch, a JSON merge patch written in YAML, applied to Base.
type Case struct {
	Name  string
	Base  string
	Patch string
	// Want are substrings of the refusal: the field, and what is wrong.
	Want []string
}

// Invalid are the cases.
var Invalid = []Case{
	// Steps.
	{"weight above 100", ValidRollout, `{spec: {steps: [{weight: 101}]}}`,
		[]string{"spec.steps[0].weight", "less than or equal to 100"}},
	{"negative weight", ValidRollout, `{spec: {steps: [{weight: -1}]}}`,
		[]string{"spec.steps[0].weight", "greater than or equal to 0"}},
	{"no steps", ValidRollout, `{spec: {steps: []}}`,
		[]string{"spec.steps", "at least 1 items"}},
	{"empty step", ValidRollout, `{spec: {steps: [{hold: 1m}]}}`,
		[]string{"spec.steps[0]", "a step needs a weight, a match or a mirror"}},
	{"weight and match", ValidRollout, `{spec: {steps: [{weight: 5, match: [{headers: [{name: x-beta, value: "on"}]}]}]}}`,
		[]string{"spec.steps[0]", "either by weight or by match, not both"}},
	{"mirror with weight", ValidRollout, `{spec: {steps: [{weight: 50, mirror: 100}]}}`,
		[]string{"spec.steps[0]", "a mirror step only copies traffic"}},
	{"mirror above 100", ValidRollout, `{spec: {steps: [{mirror: 150}]}}`,
		[]string{"spec.steps[0].mirror", "less than or equal to 100"}},
	{"empty match", ValidRollout, `{spec: {steps: [{match: [{}]}]}}`,
		[]string{"spec.steps[0].match[0]", "a match needs at least one of headers, cookies, queryParams or grpcMethod"}},
	{"unknown match type", ValidRollout, `{spec: {steps: [{match: [{headers: [{name: x, value: y, type: Glob}]}]}]}}`,
		[]string{"spec.steps[0].match[0].headers[0].type", "Unsupported value", "Glob"}},
	{"a Rollout name longer than a label value", ValidRollout, `{metadata: {name: ` + strings.Repeat("a", 64) + `}}`,
		[]string{"at most 63 characters", "tranche.dev/rollout"}},
	{"a regular expression that does not compile", ValidRollout, `{spec: {steps: [{match: [{headers: [{name: x-beta, value: "[0-9", type: RegularExpression}]}]}]}}`,
		[]string{"spec.steps[0].match[0].headers[0]", "missing closing ]"}},
	{"verifyTraffic with a tolerance above 50", ValidRollout, `{spec: {analysis: {verifyTraffic: {tolerance: 60}}}}`,
		[]string{"spec.analysis.verifyTraffic.tolerance", "less than or equal to 50"}},
	{"verifyTraffic with the kubernetes provider", ValidRollout, `{spec: {provider: {gatewayAPI: null, kubernetes: {}}, steps: [{weight: 0}, {weight: 100}], analysis: {metrics: null, verifyTraffic: {}}}}`,
		[]string{"spec.analysis.verifyTraffic", "leave out verifyTraffic"}},
	{"hold is not a duration", ValidRollout, `{spec: {steps: [{weight: 5, hold: soon}]}}`,
		[]string{"spec.steps[0].hold", "should match"}},
	{"hold of zero", ValidRollout, `{spec: {steps: [{weight: 5, hold: 0s}]}}`,
		[]string{"spec.steps[0].hold", "hold must be a positive duration"}},
	{"unknown approval", ValidRollout, `{spec: {steps: [{weight: 5, approval: Maybe}]}}`,
		[]string{"spec.steps[0].approval", "Unsupported value"}},

	// Provider, and what each provider can do.
	{"two providers", ValidRollout, `{spec: {provider: {istio: {}}}}`,
		[]string{"spec.provider", "set exactly one provider"}},
	{"no provider", ValidRollout, `{spec: {provider: {gatewayAPI: null}}}`,
		[]string{"spec.provider", "set exactly one provider"}},
	{"gatewayAPI without parentRefs", ValidRollout, `{spec: {provider: {gatewayAPI: {parentRefs: null}}}}`,
		[]string{"spec.provider.gatewayAPI.parentRefs", "Required value"}},
	{"Service parent in the Gateway group", ValidRollout, `{spec: {provider: {gatewayAPI: {parentRefs: [{kind: Service, group: gateway.networking.k8s.io, name: web}]}}}}`,
		[]string{"spec.provider.gatewayAPI.parentRefs[0]", `group is gateway.networking.k8s.io for a Gateway and "" for a Service`}},
	{"istio option in the gatewayAPI block", ValidRollout, `{spec: {provider: {gatewayAPI: {trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}}}}`,
		[]string{"spec.provider.gatewayAPI.trafficPolicy", "unknown field"}},
	{"unknown istio TLS mode", ValidRollout, `{spec: {provider: {gatewayAPI: null, istio: {trafficPolicy: {tls: {mode: PLAINTEXT}}}}}}`,
		[]string{"spec.provider.istio.trafficPolicy.tls.mode", "Unsupported value"}},
	// What istiod's own validation refuses (providers/istio checks each against it).
	{"istio timeout finer than a millisecond", ValidRollout, `{spec: {provider: {gatewayAPI: null, istio: {timeout: 1.5ms}}}}`,
		[]string{"spec.provider.istio.timeout", "istio.timeout must be at least 1ms, in whole milliseconds"}},
	{"istio per-try timeout under a millisecond", ValidRollout, `{spec: {provider: {gatewayAPI: null, istio: {retries: {attempts: 2, perTryTimeout: 0.5ms}}}}}`,
		[]string{"spec.provider.istio.retries.perTryTimeout", "retries.perTryTimeout must be at least 1ms"}},
	{"istio ejection sweep finer than a millisecond", ValidRollout, `{spec: {provider: {gatewayAPI: null, istio: {trafficPolicy: {outlierDetection: {interval: 0.0001s}}}}}}`,
		[]string{"spec.provider.istio.trafficPolicy.outlierDetection.interval", "outlierDetection.interval must be at least 1ms"}},
	{"unknown istio retry condition", ValidRollout, `{spec: {provider: {gatewayAPI: null, istio: {retries: {attempts: 2, retryOn: "5xx,bogus"}}}}}`,
		[]string{"spec.provider.istio.retries.retryOn", "conditions Istio knows"}},
	{"istio retry conditions without attempts", ValidRollout, `{spec: {provider: {gatewayAPI: null, istio: {retries: {attempts: 0, retryOn: 5xx}}}}}`,
		[]string{"spec.provider.istio.retries", "retries.attempts 0 turns retries off"}},
	{"istio host that is not a DNS name", ValidRollout, `{spec: {provider: {gatewayAPI: null, istio: {hosts: [cart_service]}}}}`,
		[]string{"spec.provider.istio.hosts", "istio.hosts must be DNS names"}},
	{"istio wildcard host inside the mesh", ValidRollout, `{spec: {provider: {gatewayAPI: null, istio: {hosts: ["*"], gateways: [mesh]}}}}`,
		[]string{"spec.provider.istio", "istio.hosts: * is refused by istiod for routes of the mesh"}},
	{"istio gateway that is not a name", ValidRollout, `{spec: {provider: {gatewayAPI: null, istio: {gateways: [istio-system/public_gw]}}}}`,
		[]string{"spec.provider.istio.gateways", "istio.gateways must be mesh, <namespace>/<name>"}},
	{"blue/green with a partial weight", ValidRollout, `{spec: {provider: {gatewayAPI: null, kubernetes: {}}, steps: [{weight: 50}, {weight: 100}]}}`,
		[]string{"spec.steps", "the kubernetes provider switches all traffic at once"}},
	{"builtin metric on kubernetes", ValidRollout, `{spec: {provider: {gatewayAPI: null, kubernetes: {}}, steps: [{weight: 0}, {weight: 100}]}}`,
		[]string{"spec.analysis.metrics", "the kubernetes provider has no data plane to take built-in metrics from"}},
	{"A/B on smi", ValidRollout, `{spec: {provider: {gatewayAPI: null, smi: {}}, steps: [{match: [{headers: [{name: x-beta, value: "on"}]}]}]}}`,
		[]string{"spec.steps", "steps with match (A/B testing) need the gatewayAPI, istio, linkerd or nginx provider"}},
	{"mirror on linkerd", ValidRollout, `{spec: {provider: {gatewayAPI: null, linkerd: {}}, steps: [{mirror: 100}]}}`,
		[]string{"spec.steps", "steps with mirror need the gatewayAPI, istio or traefik provider"}},
	{"query match on nginx", ValidRollout, `{spec: {provider: {gatewayAPI: null, nginx: {ingressRef: {name: web}}}, steps: [{match: [{queryParams: [{name: a, value: b}]}]}]}}`,
		[]string{"spec.steps", "the nginx provider cannot match on queryParams"}},
	{"linkerd's SMI mode is the smi provider", ValidRollout, `{spec: {provider: {gatewayAPI: null, linkerd: {mode: SMI}}}}`,
		[]string{"spec.provider.linkerd.mode", `supported values: "HTTPRoute"`}},
	{"backend timeout longer than the request's", ValidRollout, `{spec: {provider: {gatewayAPI: {timeouts: {request: 5s, backendRequest: 10s}}}}}`,
		[]string{"spec.provider.gatewayAPI.timeouts", "timeouts.backendRequest must not be longer than timeouts.request"}},
	{"Compare with bounds", ValidRollout, `{spec: {analysis: {metrics: [{name: m, templateRef: {name: t}, judge: Compare, max: 1}]}}}`,
		[]string{"spec.analysis.metrics[0]", "a Compare metric is judged against the primary: leave out min and max"}},
	{"Compare of a built-in rate", ValidRollout, `{spec: {analysis: {metrics: [{name: m, builtin: request-success-rate, judge: Compare}]}}}`,
		[]string{"spec.analysis.metrics[0]", "a Compare metric needs a templateRef"}},
	{"compare settings on a Threshold metric", ValidRollout, `{spec: {analysis: {metrics: [{name: m, builtin: request-success-rate, min: 99, compare: {detect: 50}}]}}}`,
		[]string{"spec.analysis.metrics[0]", "compare tunes the Compare judge"}},
	{"a regression to detect within the tolerance", ValidRollout, `{spec: {analysis: {metrics: [{name: m, templateRef: {name: t}, judge: Compare, compare: {tolerance: 50, detect: 50}}]}}}`,
		[]string{"spec.analysis.metrics[0].compare", "detect must be above tolerance"}},
	{"a false rollback probability of 0", ValidRollout, `{spec: {analysis: {metrics: [{name: m, templateRef: {name: t}, judge: Compare, compare: {falseRollback: 0}}]}}}`,
		[]string{"spec.analysis.metrics[0].compare.falseRollback", "greater than 0"}},
	{"an unknown service protocol", ValidRollout, `{spec: {service: {protocol: UDP}}}`,
		[]string{"spec.service.protocol", "HTTP", "GRPC"}},
	{"gRPC through the traefik provider", ValidRollout, `{spec: {provider: {gatewayAPI: null, traefik: {}}, service: {protocol: GRPC}}}`,
		[]string{"spec.service.protocol", "the traefik and nginx providers route HTTP only"}},
	{"gRPC through the nginx provider", ValidRollout, `{spec: {provider: {gatewayAPI: null, nginx: {ingressRef: {name: shop}}}, service: {protocol: GRPC}}}`,
		[]string{"spec.service.protocol", "needs the gatewayAPI (a GRPCRoute), istio, linkerd, smi or kubernetes provider"}},
	{"a gRPC A/B step on a cookie", ValidRollout, `{spec: {service: {protocol: GRPC}, steps: [{match: [{cookies: [{name: beta, value: "1"}]}]}, {weight: 100}]}}`,
		[]string{"spec.steps", "match on headers (gRPC metadata) only"}},
	{"a gRPC A/B step on a query parameter", ValidRollout, `{spec: {service: {protocol: GRPC}, steps: [{match: [{queryParams: [{name: beta, value: "1"}]}]}, {weight: 100}]}}`,
		[]string{"spec.steps", "gRPC clients send no cookies and no query parameters"}},
	{"a grpcMethod match for an HTTP service", ValidRollout, `{spec: {steps: [{match: [{grpcMethod: {method: Check}}]}, {weight: 100}]}}`,
		[]string{"spec.steps", "a grpcMethod match needs service.protocol GRPC and the gatewayAPI or linkerd provider"}},
	{"a grpcMethod match through istio", ValidRollout, `{spec: {provider: {gatewayAPI: null, istio: {}}, service: {protocol: GRPC}, steps: [{match: [{grpcMethod: {method: Check}}]}, {weight: 100}]}}`,
		[]string{"spec.steps", "the gatewayAPI or linkerd provider (a GRPCRoute)"}},
	{"an empty grpcMethod match", ValidRollout, `{spec: {service: {protocol: GRPC}, steps: [{match: [{grpcMethod: {}}]}, {weight: 100}]}}`,
		[]string{"grpcMethod", "a grpcMethod match needs a service, a method or both"}},
	{"a grpcMethod that names a path", ValidRollout, `{spec: {service: {protocol: GRPC}, steps: [{match: [{grpcMethod: {method: "/shop.Orders/Get"}}]}, {weight: 100}]}}`,
		[]string{"grpcMethod.method", "should match"}},
	{"TCP through the istio provider", ValidRollout, `{spec: {provider: {gatewayAPI: null, istio: {}}, service: {protocol: TCP}, analysis: null}}`,
		[]string{"spec.service.protocol", "service.protocol TCP needs the gatewayAPI (a TCPRoute), smi or kubernetes provider"}},
	{"a TCP A/B step", ValidRollout, `{spec: {service: {protocol: TCP}, analysis: null, steps: [{match: [{headers: [{name: x, value: "1"}]}]}, {weight: 100}]}}`,
		[]string{"spec.steps", "a TCP service's steps split by weight alone"}},
	{"a TCP mirror step", ValidRollout, `{spec: {service: {protocol: TCP}, analysis: null, steps: [{mirror: 20}, {weight: 100}]}}`,
		[]string{"spec.steps", "its connections carry nothing to match, and no Gateway mirrors them"}},
	{"TCP with session affinity", ValidRollout, `{spec: {service: {protocol: TCP}, analysis: null, sessionAffinity: {}}}`,
		[]string{"spec.sessionAffinity", "which a TCP connection does not carry"}},
	{"a TCPRoute with hostnames", ValidRollout, `{spec: {service: {protocol: TCP}, analysis: null, provider: {gatewayAPI: {hostnames: [db.example.com]}}}}`,
		[]string{"spec.provider.gatewayAPI", "a TCPRoute has no hostnames and no timeouts"}},
	{"TCP with a built-in metric", ValidRollout, `{spec: {service: {protocol: TCP}}}`,
		[]string{"spec.analysis", "a TCP service has no request metrics built in"}},
	{"several ports through the istio provider", ValidRollout, `{spec: {provider: {gatewayAPI: null, istio: {}}, service: {ports: [{name: db, port: 5432, protocol: TCP}]}}}`,
		[]string{"spec.service.ports", "service.ports needs the gatewayAPI (a route for each port), smi or kubernetes provider"}},
	{"an A/B step with several ports", ValidRollout, `{spec: {service: {ports: [{name: admin, port: 81}]}, steps: [{match: [{headers: [{name: x, value: "1"}]}]}, {weight: 100}]}}`,
		[]string{"spec.steps", "a Rollout with service.ports splits every port by weight alone"}},
	{"session affinity with several ports", ValidRollout, `{spec: {service: {ports: [{name: admin, port: 81}]}, sessionAffinity: {}}}`,
		[]string{"spec.sessionAffinity", "on one port only"}},
	{"two HTTP ports through a Gateway", ValidRollout, `{spec: {service: {ports: [{name: admin, port: 81}]}}}`,
		[]string{"spec.service.ports", "with the gatewayAPI provider, service.ports holds one port, a TCP one beside an HTTP or GRPC port"}},
	{"two TCP ports through a Gateway", ValidRollout, `{spec: {service: {protocol: TCP, ports: [{name: db, port: 5432, protocol: TCP}]}, analysis: null}}`,
		[]string{"spec.service.ports", "or two TCPRoutes"}},
	{"two ports beside port through a Gateway", ValidRollout, `{spec: {service: {ports: [{name: db, port: 5432, protocol: TCP}, {name: rpc, port: 9090, protocol: GRPC}]}}}`,
		[]string{"spec.service.ports", "service.ports holds one port"}},
	{"a second port with port's number", ValidRollout, `{spec: {service: {ports: [{name: admin, port: 80}]}}}`,
		[]string{"spec.service.ports", "each of ports needs a port number of its own, other than port's"}},
	{"two ports with one number", ValidRollout, `{spec: {service: {ports: [{name: admin, port: 81}, {name: debug, port: 81}]}}}`,
		[]string{"spec.service.ports", "two of ports have the same port number"}},
	{"a second port named as port", ValidRollout, `{spec: {service: {ports: [{name: http, port: 81}]}}}`,
		[]string{"spec.service.ports", "each of ports needs a name of its own, other than portName (default http)"}},
	{"a port name with two hyphens in a row", ValidRollout, `{spec: {service: {protocol: TCP, ports: [{name: a--b, port: 81}]}, analysis: null}}`,
		[]string{"spec.service.ports[0].name", "no two hyphens in a row"}},
	{"a scrape interval longer than the analysis interval", ValidRollout, `{spec: {analysis: {interval: 30s, scrapeInterval: 1m}}}`,
		[]string{"spec.analysis.scrapeInterval", "scrapeInterval must be no longer than interval"}},
	{"a second port without a name", ValidRollout, `{spec: {service: {ports: [{port: 81}]}}}`,
		[]string{"spec.service.ports[0].name", "Required value"}},
	{"gRPC with session affinity", ValidRollout, `{spec: {service: {protocol: GRPC}, sessionAffinity: {}}}`,
		[]string{"spec.sessionAffinity", "which gRPC clients do not carry"}},
	{"gRPC with route timeouts", ValidRollout, `{spec: {service: {protocol: GRPC}, provider: {gatewayAPI: {timeouts: {request: 10s}}}}}`,
		[]string{"spec.provider.gatewayAPI.timeouts", "a GRPCRoute has no timeouts"}},
	{"a gRPC mirror step through a GRPCRoute", ValidRollout, `{spec: {service: {protocol: GRPC}, steps: [{mirror: 50}, {weight: 100}]}}`,
		[]string{"spec.steps", "leave out mirror steps for a GRPC service with the gatewayAPI provider"}},
	{"session affinity on smi", ValidRollout, `{spec: {provider: {gatewayAPI: null, smi: {}}, sessionAffinity: {}}}`,
		[]string{"spec.sessionAffinity", "sessionAffinity needs the gatewayAPI, istio, linkerd, nginx or traefik provider"}},
	{"session affinity on blue/green", ValidRollout, `{spec: {provider: {gatewayAPI: null, kubernetes: {}}, steps: [{weight: 0}, {weight: 100}], analysis: null, sessionAffinity: {}}}`,
		[]string{"spec.sessionAffinity", "smi and kubernetes cannot keep a client on the canary"}},
	{"affinity cookie name with a space", ValidRollout, `{spec: {sessionAffinity: {cookieName: "my cookie"}}}`,
		[]string{"spec.sessionAffinity.cookieName", "should match"}},
	{"affinity max age under a second", ValidRollout, `{spec: {sessionAffinity: {maxAge: 500ms}}}`,
		[]string{"spec.sessionAffinity.maxAge", "sessionAffinity.maxAge must be at least 1s"}},

	// Target and service.
	{"target of an unsupported kind", ValidRollout, `{spec: {targetRef: {kind: StatefulSet}}}`,
		[]string{"spec.targetRef.kind", "Unsupported value"}},
	{"target name too long", ValidRollout, `{spec: {targetRef: {name: ` + strings.Repeat("a", 56) + `}}}`,
		[]string{"spec.targetRef.name", "at most 55 characters"}},
	{"target name not a DNS label", ValidRollout, `{spec: {targetRef: {name: My.App}}}`,
		[]string{"spec.targetRef.name", "must be a DNS label"}},
	{"service port 0", ValidRollout, `{spec: {service: {port: 0}}}`,
		[]string{"spec.service.port", "greater than or equal to 1"}},
	{"progressDeadline without unit", ValidRollout, `{spec: {progressDeadline: "600"}}`,
		[]string{"spec.progressDeadline", "should match"}},
	{"rollback weights with an instant pace", ValidRollout, `{spec: {rollback: {weights: [50, 5]}}}`,
		[]string{"spec.rollback", "rollback.weights and rollback.hold go with pace: Steps"}},
	{"rollback weight of 100", ValidRollout, `{spec: {rollback: {pace: Steps, weights: [100]}}}`,
		[]string{"spec.rollback.weights[0]", "less than or equal to 99"}},
	{"rollback weight twice", ValidRollout, `{spec: {rollback: {pace: Steps, weights: [5, 5]}}}`,
		[]string{"spec.rollback.weights[1]", "Duplicate value"}},
	{"rollback hold below a second", ValidRollout, `{spec: {rollback: {pace: Steps, hold: 100ms}}}`,
		[]string{"spec.rollback.hold", "rollback.hold must be at least 1s"}},
	{"rollback pace unknown", ValidRollout, `{spec: {rollback: {pace: Gradual}}}`,
		[]string{"spec.rollback.pace", "Unsupported value"}},
	{"group after itself", ValidRollout, `{spec: {group: {name: checkout, after: [{rollout: app}]}}}`,
		[]string{"a member cannot come after itself"}},
	{"group name not a DNS label", ValidRollout, `{spec: {group: {name: Check_Out}}}`,
		[]string{"spec.group.name", "should match"}},
	{"group after a member twice", ValidRollout, `{spec: {group: {name: checkout, after: [{rollout: db}, {rollout: db}]}}}`,
		[]string{"spec.group.after[1]", "Duplicate value"}},

	// Analysis.
	{"interval of zero", ValidRollout, `{spec: {analysis: {interval: 0s}}}`,
		[]string{"spec.analysis.interval", "interval must be at least 1s"}},
	{"interval below a second", ValidRollout, `{spec: {analysis: {interval: 500ms}}}`,
		[]string{"spec.analysis.interval", "interval must be at least 1s"}},
	{"failureLimit of zero", ValidRollout, `{spec: {analysis: {failureLimit: 0}}}`,
		[]string{"spec.analysis.failureLimit", "greater than or equal to 1"}},
	{"metric without query", ValidRollout, `{spec: {analysis: {metrics: [{name: m, max: 1}]}}}`,
		[]string{"spec.analysis.metrics[0]", "exactly one of templateRef or builtin"}},
	{"metric with template and builtin", ValidRollout, `{spec: {analysis: {metrics: [{name: m, templateRef: {name: t}, builtin: request-duration, max: 1}]}}}`,
		[]string{"spec.analysis.metrics[0]", "exactly one of templateRef or builtin"}},
	{"unknown builtin", ValidRollout, `{spec: {analysis: {metrics: [{name: m, builtin: cpu, max: 1}]}}}`,
		[]string{"spec.analysis.metrics[0].builtin", "Unsupported value"}},
	{"min above max", ValidRollout, `{spec: {analysis: {metrics: [{name: m, builtin: request-duration, min: 10, max: 1}]}}}`,
		[]string{"spec.analysis.metrics[0]", "min must not be greater than max"}},
	{"threshold without bounds", ValidRollout, `{spec: {analysis: {metrics: [{name: m, builtin: request-duration}]}}}`,
		[]string{"spec.analysis.metrics[0]", "a Threshold metric needs min, max or both"}},
	{"duplicate metric names", ValidRollout, `{spec: {analysis: {metrics: [{name: m, builtin: request-duration, max: 1}, {name: m, builtin: request-success-rate, min: 1}]}}}`,
		[]string{"spec.analysis.metrics[1]", "Duplicate value"}},
	{"unknown webhook type", ValidRollout, `{spec: {analysis: {webhooks: [{name: h, type: Sometimes, url: "http://h.test/"}]}}}`,
		[]string{"spec.analysis.webhooks[0].type", "Unsupported value", "ConfirmRollout"}},
	{"webhook url not http", ValidRollout, `{spec: {analysis: {webhooks: [{name: h, url: "ftp://h.test/"}]}}}`,
		[]string{"spec.analysis.webhooks[0].url", "url must be an absolute http or https URL"}},
	{"webhook url relative", ValidRollout, `{spec: {analysis: {webhooks: [{name: h, url: "/hook"}]}}}`,
		[]string{"spec.analysis.webhooks[0].url", "url must be an absolute http or https URL"}},
	{"webhook timeout too long", ValidRollout, `{spec: {analysis: {webhooks: [{name: h, url: "http://h.test/", timeout: 10m}]}}}`,
		[]string{"spec.analysis.webhooks[0].timeout", "timeout must be between 0s (excluded) and 5m"}},
	{"unknown severity", ValidRollout, `{spec: {notify: [{providerRef: {name: slack}, severity: Warning}]}}`,
		[]string{"spec.notify[0].severity", "Unsupported value"}},

	// MetricTemplate.
	{"template without query", ValidTemplate, `{spec: {query: ""}}`,
		[]string{"spec.query", "at least 1 chars"}},
	{"prometheus address without scheme", ValidTemplate, `{spec: {prometheus: {address: "prometheus:9090"}}}`,
		[]string{"spec.prometheus.address", "prometheus.address must be an absolute http or https URL"}},
	{"prometheus timeout too long", ValidTemplate, `{spec: {prometheus: {timeout: 2m}}}`,
		[]string{"spec.prometheus.timeout", "timeout must be between 0s (excluded) and 1m"}},

	// NotificationProvider.
	{"unknown notification type", ValidProvider, `{spec: {type: Discord}}`,
		[]string{"spec.type", "Unsupported value", "Slack"}},
	{"Slack options on Teams", ValidProvider, `{spec: {type: MSTeams}}`,
		[]string{"spec", "channel, username and iconEmoji are Slack options"}},
	{"provider without secret", ValidProvider, `{spec: {secretRef: null}}`,
		[]string{"spec.secretRef", "Required value"}},
	{"URL in clear", ValidProvider, `{spec: {address: "https://hooks.slack.test/x"}}`,
		[]string{"spec.address", "unknown field"}},
	{"template of no kind of news", ValidProvider, `{spec: {templates: {Deployed: {text: "{{ .Rollout }}"}}}}`,
		[]string{"spec.templates", "templates are by kind of news: Default, Started"}},
	{"empty template", ValidProvider, `{spec: {templates: {Promoted: {}}}}`,
		[]string{"spec.templates[Promoted]", "a template needs a title, a text or both"}},
	{"bad Slack channel", ValidProvider, `{spec: {channel: "Releases!"}}`,
		[]string{"spec.channel", "should match"}},
}

// Object applies the case's patch to its base.
func (c Case) Object() (*unstructured.Unstructured, error) { return Patched(c.Base, c.Patch) }

// Patched applies a JSON merge patch, written in YAML, to a YAML object.
func Patched(doc, patch string) (*unstructured.Unstructured, error) {
	base, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return nil, err
	}
	p, err := yaml.YAMLToJSON([]byte(patch))
	if err != nil {
		return nil, err
	}
	merged, err := jsonpatch.MergePatch(base, p)
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{}
	return obj, obj.UnmarshalJSON(merged)
}
