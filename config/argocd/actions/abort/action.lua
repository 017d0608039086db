-- Rolls the canary back, as `kubectl tranche abort` does; the revision is not tried again
-- until the target changes or a retry.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["tranche.dev/abort"] = "argocd-" .. os.time()
return obj
