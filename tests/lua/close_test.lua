-- Lua 5.4 only: a to-be-closed variable closes the node at the end of its scope.
local ruphin = require("ruphin")
local kept
do
    local hp <close> = assert(ruphin.holepuncher("127.0.0.1:0"))
    kept = hp
    assert(tostring(kept) == "ruphin.node (open)")
end
assert(tostring(kept) == "ruphin.node (closed)", "__close did not close")
print("closed by __close")
