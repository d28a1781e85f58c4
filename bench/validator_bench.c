#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include "ngx_http_leadlist_body.h"

/* bench/validator.sh: the body validator alone, microseconds per body */
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc,char**argv){
  int np=atoi(argv[1]), iters=atoi(argv[2]); static char buf[1<<22]; size_t n=0;
  n+=sprintf(buf+n,"{\"persons\":[");
  for(int i=0;i<np;i++) n+=sprintf(buf+n,"%s{\"id\":\"p-%06d\",\"firstName\":\"Ada\",\"lastName\":\"Lovelace\",\"fullName\":\"Ada Lovelace\",\"title\":\"Chief Technology Officer\",\"headline\":\"Builds analytical engines at scale\",\"email\":\"ada%d@example.com\",\"phone\":\"+44 20 7946 0958\",\"linkedinUrl\":\"https://www.linkedin.com/in/ada-%d\",\"companyId\":\"c-1234\",\"companyName\":\"Analytical Engines Ltd\",\"companyDomain\":\"engines.example\",\"industry\":\"Computer Software\",\"seniority\":\"C-Level\",\"departments\":[\"Engineering\",\"Research\"],\"city\":\"London\",\"state\":\"England\",\"country\":\"United Kingdom\"}", i?",":"", i,i,i);
  n+=sprintf(buf+n,"]}");
  static ngx_http_leadlist_body_t b; double t0=now();
  for(int k=0;k<iters;k++){ if(ngx_http_leadlist_body_validate((unsigned char*)buf,n,NULL,&b)!=0){printf("invalid %s\n",b.details[0].message);return 1;} }
  double t=now()-t0; printf("%d persons, %zu bytes: %.1f us per body\n",np,n,t/iters*1e6); return 0;}
