package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// NotificationProvider is a place Rollouts send news to: a Slack or Microsoft Teams channel,
// or any HTTP endpoint that takes JSON. The endpoint's URL is a secret and lives in a Secret,
// never in the spec.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=tnp,categories=tranche
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Channel",type=string,JSONPath=`.spec.channel`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type NotificationProvider struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says where and how to send.
	// +required
	Spec NotificationProviderSpec `json:"spec"`

	// status is the controller's word on the spec.
	// +optional
	Status NotificationProviderStatus `json:"status,omitempty"`
}

// NotificationProviderStatus says whether the provider's templates work.
type NotificationProviderStatus struct {
	// observedGeneration is the generation of the spec the conditions are about.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready is False, with reason TemplateInvalid, while a template does not
	// parse or render; the default message of that kind of news is sent instead.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// NotificationProviderSpec describes one notification endpoint.
// +kubebuilder:validation:XValidation:rule="self.type == 'Slack' || (!has(self.channel) && !has(self.username) && !has(self.iconEmoji))",message="channel, username and iconEmoji are Slack options: remove them or use type Slack"
type NotificationProviderSpec struct {
	// type of the endpoint: Slack (incoming webhook, Block Kit messages), MSTeams (incoming
	// webhook) or Webhook (the event as JSON).
	// +required
	Type NotificationType `json:"type"`

	// secretRef names a Secret in the provider's namespace whose key address holds the
	// endpoint's URL.
	// +required
	SecretRef LocalObjectReference `json:"secretRef"`

	// channel overrides the incoming webhook's default Slack channel, such as #releases.
	// +optional
	// +kubebuilder:validation:MaxLength=80
	// +kubebuilder:validation:Pattern=`^[#@]?[a-z0-9][-a-z0-9_.]*$`
	Channel string `json:"channel,omitempty"`

	// username the Slack message is posted as. Default: the incoming webhook's.
	// +optional
	// +kubebuilder:validation:MaxLength=80
	Username string `json:"username,omitempty"`

	// iconEmoji of the Slack message, such as :rocket:.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^:[a-z0-9_+-]+:$`
	IconEmoji string `json:"iconEmoji,omitempty"`

	// timeout of one delivery attempt. Default: 10s.
	// +optional
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('1m')",message="timeout must be between 0s (excluded) and 1m"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// templates shape the messages, by kind of news: Started, StepReached, WaitingApproval,
	// Promoted, RolledBack, Aborted, Undone, AnalysisFailing, DryRunFailing, Stalled, and Default for
	// every kind. Each is a title and a text, Go templates (text/template) over the fields that
	// docs/notifications.md lists ({{ .Rollout }}, {{ .Phase }}, {{ .Weight }}, ...); a part a
	// kind's template leaves out is Default's, else Tranche's own words. A template that does
	// not parse or render makes the provider's Ready condition False and is not used:
	// Tranche's own words are sent in its place.
	// +optional
	// +kubebuilder:validation:MaxProperties=11
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['Default', 'Started', 'StepReached', 'WaitingApproval', 'Promoted', 'RolledBack', 'Aborted', 'Undone', 'AnalysisFailing', 'DryRunFailing', 'Stalled'])",message="templates are by kind of news: Default, Started, StepReached, WaitingApproval, Promoted, RolledBack, Aborted, Undone, AnalysisFailing, DryRunFailing or Stalled"
	Templates map[string]MessageTemplate `json:"templates,omitempty"`
}

// MessageTemplate is a message's title and text, as Go templates.
// +kubebuilder:validation:XValidation:rule="has(self.title) || has(self.text)",message="a template needs a title, a text or both"
type MessageTemplate struct {
	// title replaces the message's heading (Tranche's: "shop/podinfo promoted").
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Title string `json:"title,omitempty"`

	// text replaces the message's text (Tranche's: the controller's words, {{ .Message }}).
	// +optional
	// +kubebuilder:validation:MaxLength=8192
	Text string `json:"text,omitempty"`
}

// TemplateDefault names the template of the kinds of news that have none of their own.
const TemplateDefault = "Default"

// NotificationType is the kind of a notification endpoint.
// +kubebuilder:validation:Enum=Slack;MSTeams;Webhook
type NotificationType string

// The notification endpoint types.
const (
	NotificationSlack   NotificationType = "Slack"
	NotificationMSTeams NotificationType = "MSTeams"
	NotificationWebhook NotificationType = "Webhook"
)

// +kubebuilder:object:root=true

// NotificationProviderList is a list of NotificationProviders.
type NotificationProviderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NotificationProvider `json:"items"`
}
