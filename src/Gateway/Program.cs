// Placeholder entry point; the host is built in Hosting/.
return 0;
