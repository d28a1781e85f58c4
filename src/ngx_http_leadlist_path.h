
/*
 * The body validator's paths: the JSON path of a byte of the body.
 */


#ifndef _NGX_HTTP_LEADLIST_PATH_H_INCLUDED_
#define _NGX_HTTP_LEADLIST_PATH_H_INCLUDED_


#include <stddef.h>


/*
 * Writes to buf the path of the value that holds the byte at off, or,
 * for off == len, of where the body ends (a string cut short, a member
 * without a value, a container left open): "persons[3].email", "" for
 * the body.  A member name is decoded from its escapes but otherwise as sent
 * (it may hold controls or bytes that are not UTF-8): the detail writer
 * cleans it.  Returns the length, at most size, not NUL-terminated.
 */
size_t ngx_http_leadlist_path(const unsigned char *data, size_t len,
    size_t off, char *buf, size_t size);


#endif /* _NGX_HTTP_LEADLIST_PATH_H_INCLUDED_ */
