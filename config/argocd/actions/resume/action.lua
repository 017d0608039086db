-- Releases a paused rollout, as `kubectl tranche resume` does; the hold of its step starts
-- again.
if obj.metadata.annotations ~= nil then
  obj.metadata.annotations["tranche.dev/paused"] = nil
end
return obj
