package listen

import (
	"strings"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notify sends state to the service manager over the socket NOTIFY_SOCKET
// names (a path, or an abstract name starting with '@'), as sd_notify(3)
// does: "READY=1", "STOPPING=1", "STATUS=text", several separated by
// newlines. It reports false, nil when NOTIFY_SOCKET is not set.
func Notify(state string) (bool, error) {
	return daemon.SdNotify(false, state)
}

// Ready tells the service manager that the service is up (READY=1), with
// an optional status line.
func Ready(status string) (bool, error) {
	return Notify(withStatus(daemon.SdNotifyReady, status))
}

// Stopping tells the service manager that the service is shutting down
// (STOPPING=1), with an optional status line.
func Stopping(status string) (bool, error) {
	return Notify(withStatus(daemon.SdNotifyStopping, status))
}

// Status sets the service's status line (STATUS=text); newlines in text
// become spaces.
func Status(text string) (bool, error) {
	return Notify(withStatus("", text))
}

func withStatus(state, status string) string {
	if status == "" {
		return state
	}
	s := "STATUS=" + strings.ReplaceAll(status, "\n", " ")
	if state == "" {
		return s
	}
	return state + "\n" + s
}
