//go:build !unix

package server

import "net"

// PendingInput reports whether bytes the server has not read wait in c's
// receive queue, or cannot tell (then true): on this platform it cannot.
func PendingInput(c net.Conn) bool { return true }
