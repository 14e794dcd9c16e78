/**
 * Queries: a {@link javax.sql.DataSource} wrapper that watches every statement of any JDBC code
 * (plain JDBC, jOOQ, JPA) per unit of work: statement counts and budgets, N+1 detection by
 * statement shape with the line of user code that loops, a rows-read guard, and slow statements
 * timed by shape with bounded metric cardinality.
 */
@NullMarked
package dev.bulwark.queries;

import org.jspecify.annotations.NullMarked;
