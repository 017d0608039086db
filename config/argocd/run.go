package argocd

import (
	"fmt"
	"time"
)

// Health is what Argo CD shows for an object: a status (Healthy, Progressing, Suspended,
// Degraded, Missing, Unknown) and a message.
type Health struct {
	Status  string
	Message string
}

// RolloutHealth runs health.lua on a Rollout as Argo CD does.
func RolloutHealth(rollout map[string]any) (Health, error) {
	out, err := run(healthScript(), rollout)
	if err != nil {
		return Health{}, fmt.Errorf("health.lua: %w", err)
	}
	m, ok := out.(map[string]any)
	if !ok {
		return Health{}, fmt.Errorf("health.lua returned %T, not a table", out)
	}
	status, _ := m["status"].(string)
	message, _ := m["message"].(string)
	return Health{Status: status, Message: message}, nil
}

// Action is an action Argo CD offers on an object.
type Action struct {
	Disabled    bool
	DisplayName string
}

// DiscoverActions runs discovery.lua on a Rollout as Argo CD does.
func DiscoverActions(rollout map[string]any) (map[string]Action, error) {
	out, err := run(discoveryScript(), rollout)
	if err != nil {
		return nil, fmt.Errorf("discovery.lua: %w", err)
	}
	m, ok := out.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("discovery.lua returned %T, not a table", out)
	}
	actions := map[string]Action{}
	for name, v := range m {
		fields, _ := v.(map[string]any)
		disabled, _ := fields["disabled"].(bool)
		display, _ := fields["displayName"].(string)
		actions[name] = Action{Disabled: disabled, DisplayName: display}
	}
	return actions, nil
}

// RunAction runs an action's script on a Rollout as Argo CD does, returning the object Argo
// CD would patch the live one to.
func RunAction(action string, rollout map[string]any) (map[string]any, error) {
	return runActionAt(action, rollout, time.Now)
}

// runActionAt is RunAction with os.time reading the clock now.
func runActionAt(action string, rollout map[string]any, now func() time.Time) (map[string]any, error) {
	out, err := runAt(actionScript(action), rollout, now)
	if err != nil {
		return nil, fmt.Errorf("action %s: %w", action, err)
	}
	m, ok := out.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("action %s returned %T, not the object", action, out)
	}
	return m, nil
}
