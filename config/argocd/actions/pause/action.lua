-- Holds the rollout where it is, as `kubectl tranche pause` does.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["tranche.dev/paused"] = "true"
return obj
