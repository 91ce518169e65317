DROP TABLE thumbnails;
