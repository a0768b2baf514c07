// Package netpool turns an address pool such as 127.0.1.0/24 into the list of
// addresses instances may be given, in allocation order.
package netpool
