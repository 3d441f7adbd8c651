"""Remote-sensing imagery: reading any raster as 8-bit RGB, cutting scenes into tiles, and where tiles are.

- :mod:`~rsmmvp_tasks.imagery.read` — the one image-reading path (rasterio for GeoTIFF and other GDAL
  formats, PIL for the rest): band selection, percentile stretch, nodata, georeference;
- :mod:`~rsmmvp_tasks.imagery.tile` — cutting scenes into tiles with one stretch per scene, and the
  tile table (source, window, CRS, bounds, centre lon/lat) written by ``rsmmvp tile``;
- :mod:`~rsmmvp_tasks.imagery.geo` — footprints, centre lon/lat and distances between footprints;
- :mod:`~rsmmvp_tasks.imagery.geodesic` — distances on the WGS 84 ellipsoid (points, lon/lat boxes).
"""
