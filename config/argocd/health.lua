-- Argo CD health of a tranche.dev Rollout. Argo CD runs this with the live object as obj
-- and shows the status and message returned. Phases map to health so that a sync waits
-- while a rollout steps (Progressing), shows a rollout waiting for a person (Suspended), and
-- turns red when a canary is rolled back or the spec cannot work (Degraded).
local hs = {}

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

-- The steps the rollout walks: spec.steps, or the defaults (three, or two for blue/green).
local function stepCount()
  if obj.spec ~= nil and obj.spec.steps ~= nil then
    return #obj.spec.steps
  end
  if obj.spec ~= nil and obj.spec.provider ~= nil and obj.spec.provider.kubernetes ~= nil then
    return 2
  end
  return 3
end

local function where(status)
  local step = (status.currentStep or 0) + 1
  return "step " .. step .. "/" .. stepCount() .. ", canary weight " .. (status.canaryWeight or 0) .. "%"
end

local function said(status, fallback)
  if status.message ~= nil and status.message ~= "" then
    return status.message
  end
  return fallback
end

local status = obj.status
if status == nil or status.phase == nil or status.phase == "" then
  hs.status = "Progressing"
  hs.message = "Waiting for the Tranche controller to see the Rollout"
  return hs
end

-- A Stalled condition whose reason is the phase is a rollout's own end (rolled back,
-- aborted): the phase tells of it below. Any other is a spec that cannot work.
local stalled = condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" and stalled.reason ~= status.phase then
  hs.status = "Degraded"
  hs.message = "Stalled: " .. (stalled.message or stalled.reason or "")
  return hs
end

if obj.metadata.generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the Tranche controller to see the latest spec"
  return hs
end

local phase = status.phase
if phase == "Initialized" or phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = said(status, "The stable version serves all traffic")
elseif phase == "Initializing" or phase == "Promoting" then
  hs.status = "Progressing"
  hs.message = said(status, phase)
elseif phase == "Progressing" then
  local annotations = obj.metadata.annotations or {}
  if annotations["tranche.dev/paused"] == "true" then
    hs.status = "Suspended"
    hs.message = "Pausing at " .. where(status)
  else
    hs.status = "Progressing"
    hs.message = where(status) .. ": " .. said(status, "stepping")
  end
elseif phase == "WaitingApproval" then
  hs.status = "Suspended"
  hs.message = "Waiting for approval at " .. where(status) .. ": use the promote action"
elseif phase == "Paused" then
  hs.status = "Suspended"
  hs.message = "Paused at " .. where(status) .. ": use the resume action"
elseif phase == "Failed" or phase == "Aborted" then
  hs.status = "Degraded"
  hs.message = said(status, "Rolled back")
else
  hs.status = "Unknown"
  hs.message = "Phase " .. phase .. " is not one this health check knows: update the Argo CD customization to the controller's version"
end
return hs
