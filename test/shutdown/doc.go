// Package shutdown holds the test that the real controller binary stops promptly whenever it
// is told to: SIGTERM at several moments of its startup and after it is ready, with its hub up
// and with its hub gone, must end the process within its graceful-shutdown timeout.
package shutdown
