-- Rolls out again the revision that failed or was aborted, as `kubectl tranche retry` does.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["tranche.dev/retry"] = "argocd-" .. os.time()
return obj
