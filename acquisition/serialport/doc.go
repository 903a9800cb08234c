// Package serialport opens serial devices (USB dongles such as the OpenBCI Cyton's FTDI adapter at
// /dev/ttyUSB0) in raw 8N1 mode at a given baud rate, with read deadlines so that a driver notices a
// device that stopped answering. It also opens pseudo-terminal pairs, on which tests and simulated
// boards stand in for real hardware: the driver opens the pty's terminal side exactly as it opens a
// USB serial port. Linux only (termios through golang.org/x/sys/unix); elsewhere Open reports that.
package serialport
