// Package handshake recognises the commands go-redis sends while it sets up
// a new connection.
package handshake

import "github.com/redis/go-redis/v9"

// Is reports the commands go-redis sends while it sets up a new connection
// (HELLO, AUTH, SELECT, READONLY, CLIENT SETNAME / SETINFO / TRACKING /
// MAINT_NOTIFICATIONS). go-redis runs them through the client's hooks,
// nested inside the command that needed the connection.
func Is(cmd redis.Cmder) bool {
	args := cmd.Args()
	if len(args) == 0 {
		return false
	}
	name, ok := args[0].(string)
	if !ok {
		return false
	}
	switch name {
	case "hello", "auth", "select", "readonly":
		return true
	case "client":
		if len(args) > 1 {
			if sub, ok := args[1].(string); ok {
				switch sub {
				case "setname", "setinfo", "tracking", "maint_notifications":
					return true
				}
			}
		}
	}
	return false
}

// All reports a batch made only of handshake commands.
func All(cmds []redis.Cmder) bool {
	if len(cmds) == 0 {
		return false
	}
	for _, c := range cmds {
		if !Is(c) {
			return false
		}
	}
	return true
}
