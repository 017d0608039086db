-- The actions Argo CD offers on a tranche.dev Rollout, each enabled when the controller
-- would act on it (the same checks the kubectl plugin makes).
local actions = {}
local phase = ""
if obj.status ~= nil and obj.status.phase ~= nil then
  phase = obj.status.phase
end
local underWay = phase == "Progressing" or phase == "WaitingApproval" or phase == "Paused"
local annotations = obj.metadata.annotations or {}
local paused = annotations["tranche.dev/paused"] == "true"

actions["promote"] = {["disabled"] = phase ~= "WaitingApproval", ["displayName"] = "Promote (pass the approval gate)"}
actions["promote-full"] = {["disabled"] = not underWay, ["displayName"] = "Promote fully (skip the remaining steps)"}
actions["abort"] = {["disabled"] = not (underWay or phase == "Promoting"), ["displayName"] = "Abort (roll back)"}
actions["retry"] = {["disabled"] = phase ~= "Failed" and phase ~= "Aborted", ["displayName"] = "Retry the failed revision"}
actions["undo"] = {["disabled"] = underWay or phase == "Promoting" or phase == "", ["displayName"] = "Undo (the earlier revision back, at once)"}
actions["pause"] = {["disabled"] = paused, ["displayName"] = "Pause"}
actions["resume"] = {["disabled"] = annotations["tranche.dev/paused"] == nil, ["displayName"] = "Resume"}
return actions
