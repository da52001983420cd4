-- A reduced falling-blocks demo: the shape of examples/lua/trisdemo.lua.
local function game(applet)
    applet:send("\x1b[2J\x1b[Hpress q to quit\r\n")
    while true do
        local key = applet:receive(1, 200)
        if key == "q" or key == "" then
            break
        end
    end
end

core.register_service("trisdemo", "tcp", game)
