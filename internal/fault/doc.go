// Package fault is hoard's one classification of errors. A [*Error] carries a
// [Kind], the operation that failed, a message that is safe to show to a
// client, and the wrapped cause (which is never shown). The HTTP layer maps
// kinds to status codes and Trove fault names in one table.
package fault
