function add_path(txn)
    local acl_file = os.getenv("ACL_FILE")
    if acl_file == nil then
        core.Warning("Environment variable 'ACL_FILE' not set!")
        return
    end
    local patref = core.get_patref(acl_file)
    if patref ~= nil then
        local path = txn.f:path()
        patref:add(path)
        core.Info("Added to list of patterns: " .. path)
    end
end

-- Register the action with HAProxy
core.register_action("add-path", {"http-req"}, add_path, 0)
